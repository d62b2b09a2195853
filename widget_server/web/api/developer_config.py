"""``/api/admin/developer-config``: a developer's apps and webhook endpoints as one file
(configuration as code): export it, see what importing it would change, import it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import JSONBody, QueryParameter

from widget_server.developers import config
from widget_server.developers.config import Applied, ConfigFile, Plan
from widget_server.web.api.base import CurrentActor, api_services, errors

TAGS = ["developers"]


@get("/developer-config", responses=errors(403), tags=TAGS)
async def export(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool: Annotated[list[str] | None, QueryParameter(max_items=64)] = None,
) -> ConfigFile:
    """The caller's live apps and the webhook endpoints of its apps and pools (``pool``:
    only those of these pools). No secret is ever in it."""
    return await config.export_config(api_services(request), actor, pool)


@post("/developer-config/plan", status_code=200, responses=errors(403, 422, body=True), tags=TAGS)
async def plan(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[ConfigFile]
) -> Plan:
    """What importing the file would do, changing nothing: per app (by client id) and
    endpoint (by owner and URL) ``create``, ``update`` (with the fields) or ``unchanged``."""
    return await config.plan(api_services(request), actor, config.checked(data))


@post(
    "/developer-config/apply",
    status_code=200,
    responses=errors(403, 404, 409, 422, body=True),
    tags=TAGS,
)
async def apply(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[ConfigFile]
) -> Applied:
    """Import the file: create and update what the plan says (nothing is deleted). The
    secrets of created confidential apps and webhook endpoints are in this answer only."""
    return await config.apply(api_services(request), actor, config.checked(data))


HANDLERS = [export, plan, apply]
