"""``/api/admin/admins``: people and API keys, their roles and scopes (tenant admins)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, patch, post
from litestar.params import JSONBody, PathParameter

from widget_server.admin import principals
from widget_server.admin.access import Principal
from widget_server.admin.principals import AdminPatch, AdminView, CreatedAdmin, NewAdmin
from widget_server.web.api.base import CurrentActor, api_services, errors

AdminId = Annotated[str, PathParameter(max_length=36)]
TAGS = ["administrators"]


@get("/me", responses=errors(), tags=TAGS)
async def me(actor: CurrentActor) -> Principal:
    """Who this key is: role and scope."""
    return actor.principal


@get("/admins", responses=errors(403), tags=TAGS)
async def list_admins(request: Request[Any, Any, Any], actor: CurrentActor) -> list[AdminView]:
    return await principals.list_admins(api_services(request), actor)


@post("/admins", responses=errors(403, 422, 503, body=True), tags=TAGS)
async def create_admin(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewAdmin]
) -> CreatedAdmin:
    """Create a person (email + password, signs in to the portal) or an API key (returned
    once in ``api_key``). Pool roles need ``pool_id``; nobody grants above their own role."""
    return await principals.create_admin(api_services(request), actor, data)


@get("/admins/{admin_id:str}", responses=errors(403, 404), tags=TAGS)
async def get_admin(
    request: Request[Any, Any, Any], actor: CurrentActor, admin_id: AdminId
) -> AdminView:
    return await principals.get_admin(api_services(request), actor, admin_id)


@patch("/admins/{admin_id:str}", responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def update_admin(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    admin_id: AdminId,
    data: JSONBody[AdminPatch],
) -> AdminView:
    """Rename, or change the role (not your own)."""
    return await principals.update_admin(api_services(request), actor, admin_id, data)


@post("/admins/{admin_id:str}/revoke", status_code=200, responses=errors(403, 404, 409), tags=TAGS)
async def revoke_admin(
    request: Request[Any, Any, Any], actor: CurrentActor, admin_id: AdminId
) -> AdminView:
    """Revoke a key or a person's access (and end their portal sessions) at once."""
    return await principals.revoke_admin(api_services(request), actor, admin_id)


HANDLERS = [me, list_admins, create_admin, get_admin, update_admin, revoke_admin]
