"""The pool's "Funnel" tab: the sign-up funnel over a range of days, as a bar chart (SVG
drawn here, no script, no third-party chart) with the same figures as a table beside it.

Pool administrators and viewers see their own pool, tenant administrators every pool;
any other pool answers 404 like a missing one (``observe/funnel_report.funnel_report``
guards it). The range and the site come from a plain GET form, so a view can be
bookmarked and shared.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, NamedTuple

from litestar import get
from litestar.params import PathParameter, QueryParameter

from widget_server.errors import InvalidInput
from widget_server.messages import Msg, msg
from widget_server.observe.funnel_report import FunnelReport, FunnelStage, funnel_report
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.portal_frame import BASE, Portal, signed_in

PoolId = Annotated[str, PathParameter(max_length=64)]
DateText = Annotated[str | None, QueryParameter(max_length=10)]
SiteText = Annotated[str | None, QueryParameter(max_length=255)]
#: The site filter's value for forms opened directly (stored as "").
DIRECT = "direct"


class Bar(NamedTuple):
    """One stage as the chart draws it."""

    stage: FunnelStage
    #: Bar length, percent of the chart's width (the largest stage is 100).
    width: float
    #: "67 %" of the stage before, or "" for the first.
    conversion: str
    drop_off: str


@get(BASE + "/pools/{pool_id:str}/funnel")
async def pool_funnel(
    request: AnyRequest,
    pool_id: PoolId,
    since: DateText = None,
    until: DateText = None,
    site: SiteText = None,
) -> Any:
    portal = await signed_in(request)
    chosen = None if not site else ("" if site == DIRECT else site)
    values = {"since": since or "", "until": until or "", "site": site or ""}
    try:
        first, last = _day(since, "since"), _day(until, "until")
        report = await funnel_report(portal.services, portal.actor, pool_id, first, last, chosen)
    except InvalidInput as exc:
        report = await funnel_report(portal.services, portal.actor, pool_id)
        return _page(portal, report, values, exc.messages, status=422)
    values |= {"since": report.since.isoformat(), "until": report.until.isoformat()}
    return _page(portal, report, values, {})


def _day(text: str | None, field: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput({field: [msg("funnel.bad_date")]}) from None


def _page(
    portal: Portal,
    report: FunnelReport,
    values: dict[str, str],
    errors: dict[str, tuple[Msg, ...]],
    status: int = 200,
) -> Any:
    return portal.page(
        "funnel.html",
        status=status,
        pool=_PoolName(report.pool_id, _name(portal, report.pool_id)),
        report=report,
        bars=bars(report),
        values=values,
        errors=errors,
        direct=DIRECT,
        title="Funnel",
    )


class _PoolName(NamedTuple):
    id: str
    name: str


def _name(portal: Portal, pool_id: str) -> str:
    return next((p.name for p in portal.nav_pools if p.id == pool_id), pool_id)


def bars(report: FunnelReport) -> list[Bar]:
    top = max((s.count for s in report.stages), default=0)
    return [
        Bar(
            stage=s,
            width=round(100 * s.count / top, 2) if top else 0.0,
            conversion=_percent(s.conversion),
            drop_off=_percent(s.drop_off),
        )
        for s in report.stages
    ]


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.0f} %"


HANDLERS = [pool_funnel]
