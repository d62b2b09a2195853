"""What a registration's handlers tell the metrics and the funnel, in one place.

The handlers call these after the service answered, with the flow's step *before* the
action (a flow that moved on names the step it left). Counting is a dictionary
increment and a counter each (``funnel.py``), cheap enough for every request.
"""

from __future__ import annotations

from collections.abc import Iterable

from widget_server.models import Flow
from widget_server.observe.funnel import ACTIVATED, CODE, VIEW
from widget_server.observe.telemetry import Telemetry
from widget_server.pools import PoolView


def viewed(telemetry: Telemetry, pool: PoolView, flow: Flow) -> None:
    """A new visitor got the form (a GET that started a flow)."""
    telemetry.metrics.registration_started(pool.id)
    telemetry.funnel.count(pool.id, flow.parent_origin, VIEW)


def step_accepted(telemetry: Telemetry, pool: PoolView, step: str, flow: Flow) -> None:
    """``step`` was accepted; ``flow`` is where it went (the next step, or the code)."""
    telemetry.metrics.registration_step(pool.id, step, "ok")
    telemetry.funnel.count(pool.id, flow.parent_origin, step)
    if flow.state == "code":
        telemetry.metrics.registration_completed(pool.id)
        telemetry.metrics.code_sent("activation")
        telemetry.funnel.count(pool.id, flow.parent_origin, CODE)


def step_refused(
    telemetry: Telemetry, pool: PoolView, step: str, flow: Flow, ids: Iterable[str]
) -> None:
    telemetry.metrics.registration_step(pool.id, step, "invalid")
    telemetry.funnel.refused(pool.id, flow.parent_origin, step, ids)


def code_refused(telemetry: Telemetry, pool: PoolView, flow: Flow, ids: Iterable[str]) -> None:
    telemetry.funnel.refused(pool.id, flow.parent_origin, CODE, ids)


def activated(telemetry: Telemetry, pool: PoolView, flow: Flow) -> None:
    telemetry.metrics.registration_activated(pool.id)
    telemetry.funnel.count(pool.id, flow.parent_origin, ACTIVATED)


def code_resent(telemetry: Telemetry, purpose: str) -> None:
    telemetry.metrics.code_sent(purpose)
