"""``/api/admin/pools/{pool_id}/funnel``: the pool's sign-up funnel over a range of days."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import PathParameter, QueryParameter

from widget_server.observe.funnel_report import FunnelReport, funnel_report
from widget_server.web.api.base import CurrentActor, api_services, errors

TAGS = ["funnel"]


@get("/pools/{pool_id:str}/funnel", responses=errors(404, 422), tags=TAGS)
async def pool_funnel(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: Annotated[str, PathParameter(max_length=64)],
    since: Annotated[
        date | None, QueryParameter(description="First day (UTC), default 29 days before until")
    ] = None,
    until: Annotated[
        date | None, QueryParameter(description="Last day (UTC), default today")
    ] = None,
    site: Annotated[
        str | None,
        QueryParameter(
            max_length=255,
            description='Only this embedding origin ("" for forms opened directly)',
        ),
    ] = None,
) -> FunnelReport:
    """Views → each step submitted → code sent → activated, with the share that went on
    from each stage to the next, the most frequent refusal message ids per stage and the
    counts per day. Aggregates only: nothing in it identifies a person. At most 366 days.
    """
    services = api_services(request)
    return await funnel_report(services, actor, pool_id, since, until, site)


HANDLERS = [pool_funnel]
