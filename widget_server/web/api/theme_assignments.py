"""``/api/admin/theme-assignments``: which theme applies where — the tenant, a workspace,
a pool or an app, most specific last, token by token — and, for a pool, which layer
each resolved token comes from. Only published themes can be assigned; targets outside
the key's scope answer 404 and are audited."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from widget_server.branding import assignment
from widget_server.branding.access import require_role
from widget_server.branding.assignment import Assigned, Target
from widget_server.branding.layers import Level, TokenOrigin
from widget_server.web.api.base import CurrentActor, api_services, errors

TargetId = Annotated[str, PathParameter(max_length=64)]
LevelParam = Annotated[Level, PathParameter()]
TAGS = ["themes"]


class Assignment(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: A published custom theme whose place holds the target.
    theme_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


@get("/theme-assignments", responses=errors(403), tags=TAGS)
async def list_targets(request: Request[Any, Any, Any], actor: CurrentActor) -> list[Target]:
    """Everything in the key's scope a theme can be assigned to, with its theme."""
    return await assignment.assignment_targets(api_services(request), actor)


@get(
    "/theme-assignments/{level:str}/{target_id:str}",
    responses=errors(403, 404, 422),
    tags=TAGS,
)
async def get_target(
    request: Request[Any, Any, Any], actor: CurrentActor, level: LevelParam, target_id: TargetId
) -> Target:
    services = api_services(request)
    await require_role(services, actor, "themes.assign")
    return await assignment.assignment_target(services, actor, level, target_id)


@put(
    "/theme-assignments/{level:str}/{target_id:str}",
    responses=errors(403, 404, 422, body=True),
    tags=TAGS,
)
async def assign(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    level: LevelParam,
    target_id: TargetId,
    data: JSONBody[Assignment],
) -> Assigned:
    """Make a published theme the layer of ``level`` for the target; every pool whose
    pages change shows it within seconds on every process."""
    services = api_services(request)
    await require_role(services, actor, "themes.assign")
    return await assignment.assign_theme(services, actor, level, target_id, data.theme_id)


@delete(
    "/theme-assignments/{level:str}/{target_id:str}",
    status_code=200,
    responses=errors(403, 404, 422),
    tags=TAGS,
)
async def unassign(
    request: Request[Any, Any, Any], actor: CurrentActor, level: LevelParam, target_id: TargetId
) -> Assigned:
    """Remove the level's theme: the target shows the layers above it again."""
    services = api_services(request)
    await require_role(services, actor, "themes.assign")
    return await assignment.assign_theme(services, actor, level, target_id, None)


@get("/pools/{pool_id:str}/theme-origins", responses=errors(403, 404), tags=TAGS)
async def token_origins(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: Annotated[str, PathParameter(max_length=64)],
    app_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> list[TokenOrigin]:
    """Every resolved token of the pool's pages (an app's, with ``app_id``) and the layer
    that set it: ``builtin``, ``tenant``, ``workspace``, ``pool`` or ``app``."""
    return await assignment.token_origins_for(api_services(request), actor, pool_id, app_id)


HANDLERS = [list_targets, get_target, assign, unassign, token_origins]
