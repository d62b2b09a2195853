"""Figures read from the database when ``/metrics`` is scraped: the outbox's backlog.

Database state is the same whichever process reads it, so the scraped process measures
it for all of them (the gauges are ``mostrecent`` across processes)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, func, select

from widget_server.models import OutboxMessage
from widget_server.services import Services

_OUTBOX = cast(Table, OutboxMessage.__table__).c


async def refresh(services: Services) -> None:
    async with services.db.read() as session:
        pending, oldest = (
            await session.execute(
                select(func.count(), func.min(_OUTBOX.created_at)).where(
                    _OUTBOX.status == "pending"
                )
            )
        ).one()
    lag = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite hands the aggregate back without its zone
            oldest = oldest.replace(tzinfo=services.clock.now().tzinfo)
        lag = max(0.0, (services.clock.now() - oldest).total_seconds())
    services.telemetry.metrics.outbox_backlog(int(pending), lag)
