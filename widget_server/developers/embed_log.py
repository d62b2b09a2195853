"""The embed log: which origins tried to frame a pool's widget and were refused, with a
count and when each was first and last seen, for the developer who wonders why their
page shows the fallback.

Refusals are reported by ``/embed/{pool}/frame-check`` (``embed.js`` asks it on every
mount), so a busy page on a wrong origin could report thousands a second. They are
counted in this process's memory first (``EmbedLog.note``: a dict update, no I/O) and
written at most every ``FLUSH_SECONDS`` per process as one upsert per (pool, origin)
with the summed count. Memory is bounded (``MAX_PENDING`` distinct pairs between
writes; more are counted as dropped, not stored), and so is the table (``MAX_PER_POOL``
origins per pool, the least recently seen go first). An origin is a site, never a
person: nothing personal is kept.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.db import Database
from widget_server.models import EmbedRefusal

FLUSH_SECONDS = 5.0
MAX_PENDING = 1000
MAX_PER_POOL = 20


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    pool_id: str
    origin: str
    count: int
    first_seen: datetime
    last_seen: datetime


class _Pending(msgspec.Struct, kw_only=True):
    count: int
    first_seen: datetime
    last_seen: datetime


class EmbedLog:
    """Refusals counted in memory, written in batches (one per process at a time)."""

    def __init__(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._flush_every = timedelta(seconds=flush_seconds)
        self._last_flush: datetime | None = None
        self._lock = asyncio.Lock()
        #: Refusals not recorded because ``MAX_PENDING`` pairs were already waiting.
        self.dropped = 0

    def note(self, pool_id: str, origin: str, now: datetime) -> bool:
        """Count one refusal; True when the pair is new since the last write (worth a
        line in the server log: once per pair and write, not once per request)."""
        key = (pool_id, origin)
        seen = self._pending.get(key)
        if seen is not None:
            seen.count += 1
            seen.last_seen = now
            return False
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return False
        self._pending[key] = _Pending(count=1, first_seen=now, last_seen=now)
        return True

    def due(self, now: datetime) -> bool:
        if not self._pending or self._lock.locked():
            return False
        return self._last_flush is None or now - self._last_flush >= self._flush_every

    async def flush(self, db: Database, now: datetime) -> int:
        """Write what is pending; returns the number of (pool, origin) rows written."""
        async with self._lock:
            pending, self._pending = self._pending, {}
            self._last_flush = now
            if not pending:
                return 0
            async with db.write() as session:
                for (pool_id, origin), seen in sorted(pending.items()):
                    await _upsert(session, pool_id, origin, seen)
                for pool_id in sorted({pool for pool, _ in pending}):
                    await _trim(session, pool_id)
            return len(pending)


async def _upsert(session: AsyncSession, pool_id: str, origin: str, seen: _Pending) -> None:
    assert session.bind is not None
    dialect = session.bind.dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = EmbedRefusal.__table__
    statement = insert(table).values(
        pool_id=pool_id,
        origin=origin,
        count=seen.count,
        first_seen=seen.first_seen,
        last_seen=seen.last_seen,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["pool_id", "origin"],
        set_={
            "count": table.c.count + statement.excluded.count,
            "last_seen": statement.excluded.last_seen,
        },
    )
    await session.execute(statement)


async def _trim(session: AsyncSession, pool_id: str) -> None:
    keep = (
        select(EmbedRefusal.origin)
        .where(EmbedRefusal.pool_id == pool_id)
        .order_by(EmbedRefusal.last_seen.desc(), EmbedRefusal.origin)
        .limit(MAX_PER_POOL)
    )
    kept = list((await session.execute(keep)).scalars())
    await session.execute(
        delete(EmbedRefusal).where(
            EmbedRefusal.pool_id == pool_id, EmbedRefusal.origin.not_in(kept)
        )
    )


async def refusals(db: Database, pool_ids: list[str]) -> list[Refusal]:
    """The refused origins of these pools, the most recently seen first."""
    if not pool_ids:
        return []
    async with db.read() as session:
        rows = await session.execute(
            select(EmbedRefusal)
            .where(EmbedRefusal.pool_id.in_(pool_ids))
            .order_by(EmbedRefusal.last_seen.desc(), EmbedRefusal.pool_id, EmbedRefusal.origin)
        )
        return [
            Refusal(
                pool_id=r.pool_id,
                origin=r.origin,
                count=r.count,
                first_seen=r.first_seen,
                last_seen=r.last_seen,
            )
            for r in rows.scalars()
        ]


async def forget(db: Database, pool_id: str, origin: str) -> None:
    """Drop an origin from the log (it was just allowed)."""
    async with db.write() as session:
        await session.execute(
            delete(EmbedRefusal).where(
                EmbedRefusal.pool_id == pool_id, EmbedRefusal.origin == origin
            )
        )
