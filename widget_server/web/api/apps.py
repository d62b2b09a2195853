"""``/api/admin/apps``: partner apps (OAuth 2.0 / OpenID Connect clients), tenant admins only."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, patch, post
from litestar.params import JSONBody, PathParameter

from widget_server.admin import apps
from widget_server.admin.apps import AppDetail, AppPatch, CreatedApp, NewApp, SecretRotation
from widget_server.web.api.base import CurrentActor, api_services, errors

AppId = Annotated[str, PathParameter(max_length=64)]
TAGS = ["apps"]


@get("/apps", responses=errors(403), tags=TAGS)
async def list_apps(request: Request[Any, Any, Any], actor: CurrentActor) -> list[AppDetail]:
    return await apps.list_apps(api_services(request), actor)


@post("/apps", responses=errors(403, 422, body=True), tags=TAGS)
async def create_app(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewApp]
) -> CreatedApp:
    """Register an app. A confidential app's ``client_secret`` is in this answer only;
    a public app has none and must use PKCE (S256). Redirect URIs are matched exactly."""
    return await apps.create_app(api_services(request), actor, data)


@get("/apps/{app_id:str}", responses=errors(403, 404), tags=TAGS)
async def get_app(request: Request[Any, Any, Any], actor: CurrentActor, app_id: AppId) -> AppDetail:
    return await apps.get_app(api_services(request), actor, app_id)


@patch("/apps/{app_id:str}", responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def update_app(
    request: Request[Any, Any, Any], actor: CurrentActor, app_id: AppId, data: JSONBody[AppPatch]
) -> AppDetail:
    """Change name, origins, redirect URIs, pools, scopes or theme (not of a revoked app)."""
    return await apps.update_app(api_services(request), actor, app_id, data)


@post(
    "/apps/{app_id:str}/rotate-secret",
    status_code=200,
    responses=errors(403, 404, 409, 422, body=True),
    tags=TAGS,
)
async def rotate_secret(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    app_id: AppId,
    data: JSONBody[SecretRotation | None] = None,
) -> CreatedApp:
    """A new client secret, shown once. The old one keeps working at the token endpoint
    for ``grace_seconds`` (0, 3600, 86400 or 604800; 0 without a body), then stops."""
    return await apps.rotate_secret(api_services(request), actor, app_id, data)


@post("/apps/{app_id:str}/revoke", status_code=200, responses=errors(403, 404), tags=TAGS)
async def revoke_app(
    request: Request[Any, Any, Any], actor: CurrentActor, app_id: AppId
) -> AppDetail:
    """Stop the app for good: no new sign-ins, no code exchanges."""
    return await apps.revoke_app(api_services(request), actor, app_id)


HANDLERS = [list_apps, create_app, get_app, update_app, rotate_secret, revoke_app]
