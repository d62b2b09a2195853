"""The sign-up funnel of one pool over a range of days, as the portal and the API show it.

Stages in order: ``view``, each step of the pool's schema (submitted and accepted),
``code`` (code sent) and ``activated``. Each stage says how many reached it, the share of
the stage before that went on (``conversion``) and the share that did not (``drop_off``),
and the message ids that refused it most often. ``days`` has the same counts per day, and
``sites`` the embedding origins seen in the range (``""``: opened directly).

``funnel_report`` checks the caller's scope first (``admin/guard.py``): a pool outside it
is ``NotFound``, like one that does not exist.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy import Table, func, select

from widget_server.admin.access import Actor
from widget_server.admin.guard import guarded_pool
from widget_server.errors import InvalidInput
from widget_server.forms.schema import steps_of
from widget_server.messages import msg
from widget_server.models import FunnelCount
from widget_server.observe.funnel import ACTIVATED, CODE, ERROR_PREFIX, REACHED, VIEW
from widget_server.pools import PoolView
from widget_server.services import Services

#: The longest range one report covers, in days.
MAX_DAYS = 366
#: Error ids listed per stage, most frequent first.
TOP_ERRORS = 5


class FunnelErrorCount(msgspec.Struct, frozen=True, kw_only=True):
    #: The message id that refused the step (``messages.py``).
    id: str
    count: int


class FunnelStage(msgspec.Struct, frozen=True, kw_only=True):
    #: ``view``, a schema step id, ``code`` or ``activated``.
    step: str
    #: Human name: the step's title from the schema, else a fixed one.
    title: str
    count: int
    #: count / the previous stage's count (null for the first stage or when it had none).
    conversion: float | None
    #: 1 - conversion.
    drop_off: float | None
    errors: list[FunnelErrorCount]


class FunnelDay(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    #: Stage step → how many reached it that day.
    counts: dict[str, int]


class FunnelReport(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    since: date
    until: date
    #: The site the report is limited to (null: every site).
    site: str | None
    #: Embedding origins seen in the range ("" = opened directly), most views first.
    sites: list[str]
    stages: list[FunnelStage]
    days: list[FunnelDay]


def date_range(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The range asked for, by default the last 30 days up to today; refused when
    reversed or longer than ``MAX_DAYS``."""
    until = until or today
    since = since or until - timedelta(days=29)
    if since > until:
        raise InvalidInput({"since": [msg("funnel.range_reversed")]})
    if (until - since).days + 1 > MAX_DAYS:
        raise InvalidInput({"since": [msg("funnel.range_too_long", max=MAX_DAYS)]})
    return since, until


def titles(pool: PoolView) -> list[tuple[str, str]]:
    """(step, title) of every stage, in order."""
    steps = [(s.id, s.title or s.id) for s in steps_of(pool.schema)]
    return [(VIEW, "Form viewed"), *steps, (CODE, "Code sent"), (ACTIVATED, "Activated")]


async def funnel_report(
    services: Services,
    actor: Actor,
    pool_id: str,
    since: date | None = None,
    until: date | None = None,
    site: str | None = None,
) -> FunnelReport:
    """The pool's funnel, if ``actor`` may read the pool (else ``NotFound``, audited).
    This process's unwritten counts are written first, so what it just counted shows."""
    pool = await guarded_pool(services, actor, "pools.read", pool_id, target_type="funnel")
    first, last = date_range(since, until, services.clock.now().date())
    await services.telemetry.funnel.flush()
    c = cast(Table, FunnelCount.__table__).c
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(c.day, c.site, c.step, c.counter, func.sum(c.count))
                .where(c.pool_id == pool.id, c.day >= first, c.day <= last)
                .group_by(c.day, c.site, c.step, c.counter)
            )
        ).all()
    return _report(pool, first, last, site, [tuple(r) for r in rows])


def _report(
    pool: PoolView, since: date, until: date, site: str | None, rows: list[tuple[Any, ...]]
) -> FunnelReport:
    views: Counter[str] = Counter()
    reached: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = {}
    by_day: dict[date, Counter[str]] = {}
    for day, row_site, step, counter, total in rows:
        count = int(total)
        if step == VIEW and counter == REACHED:
            views[row_site] += count
        if site is not None and row_site != site:
            continue
        if counter == REACHED:
            reached[step] += count
            by_day.setdefault(day, Counter())[step] += count
        elif counter.startswith(ERROR_PREFIX):
            errors.setdefault(step, Counter())[counter[len(ERROR_PREFIX) :]] += count
    stages = _stages(titles(pool), reached, errors)
    days = [
        FunnelDay(day=d, counts=dict(by_day.get(d, {})))
        for d in (since + timedelta(days=i) for i in range((until - since).days + 1))
    ]
    return FunnelReport(
        pool_id=pool.id,
        since=since,
        until=until,
        site=site,
        sites=[s for s, _ in views.most_common()],
        stages=stages,
        days=days,
    )


def _stages(
    order: list[tuple[str, str]], reached: Counter[str], errors: dict[str, Counter[str]]
) -> list[FunnelStage]:
    stages: list[FunnelStage] = []
    previous: int | None = None
    for step, title in order:
        count = reached[step]
        conversion = count / previous if previous else None
        stages.append(
            FunnelStage(
                step=step,
                title=title,
                count=count,
                conversion=conversion,
                drop_off=None if conversion is None else 1 - conversion,
                errors=[
                    FunnelErrorCount(id=i, count=n)
                    for i, n in errors.get(step, Counter()).most_common(TOP_ERRORS)
                ],
            )
        )
        previous = count
    return stages
