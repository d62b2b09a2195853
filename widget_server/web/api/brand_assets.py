"""``/api/admin/brand-assets``: images and fonts for themes (logo, favicon, backgrounds,
WOFF2 fonts). The body of an upload is the file itself; what it is comes from its
content, never its name or ``Content-Type`` (``branding/assets.py``). A theme names a
file by the ``sha256`` the upload answers."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.branding import assets
from widget_server.branding.access import require_role
from widget_server.branding.assets import AssetView
from widget_server.web.api.base import CurrentActor, api_services, errors
from widget_server.web.api.bodies import RAW_BODY

TAGS = ["themes"]


@get("/brand-assets", responses=errors(403), tags=TAGS)
async def list_assets(request: Request[Any, Any, Any], actor: CurrentActor) -> list[AssetView]:
    return await assets.list_assets(api_services(request), actor)


@post(
    "/brand-assets",
    responses=errors(403, 422, body=True),
    tags=TAGS,
    opt={RAW_BODY: True},  # the file itself, checked by content (branding/assets.py)
)
async def upload_asset(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    name: Annotated[str, QueryParameter(min_length=1, max_length=200)] = "upload",
) -> AssetView:
    """Upload one PNG, JPEG, WebP, SVG (sanitised: no scripts, handlers or external
    references) or WOFF2 file as the raw request body; 422 on ``file`` says why it was
    refused. The same bytes again answer the stored file."""
    services = api_services(request)
    await require_role(services, actor, "themes.write", target_type="asset")
    return await assets.upload_asset(services, actor, name, await request.body())


@delete("/brand-assets/{sha256:str}", responses=errors(403, 404, 409), tags=TAGS)
async def delete_asset(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    sha256: Annotated[str, PathParameter(max_length=64)],
) -> None:
    """Delete a file; 409 while a live theme uses it."""
    await assets.delete_asset(api_services(request), actor, sha256)


HANDLERS = [list_assets, upload_asset, delete_asset]
