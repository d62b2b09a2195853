"""``Telemetry``: the metrics and the funnel recorder of one app, built by ``create_app``
and reached through ``Services.telemetry``."""

from __future__ import annotations

from dataclasses import dataclass

from widget_server.clock import Clock, SystemClock
from widget_server.db import Database
from widget_server.observe.funnel import FunnelRecorder
from widget_server.observe.metrics import Metrics


@dataclass(frozen=True)
class Telemetry:
    metrics: Metrics
    funnel: FunnelRecorder

    @classmethod
    def build(
        cls, db: Database, clock: Clock | None = None, multiproc_dir: str | None = None
    ) -> Telemetry:
        return cls(Metrics(multiproc_dir), FunnelRecorder(db, clock or SystemClock()))
