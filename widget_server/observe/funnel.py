"""The sign-up funnel, counted: views → each step submitted → code sent → activated, per
pool, embedding site and UTC day, with the message ids that refused a step.

Counting is cheap on the hot path: ``count`` adds one to a dictionary in memory (event
loop only, no lock, no I/O), and a background task adds the totals to ``funnel_counts``
every ``FLUSH_SECONDS`` in one transaction (``INSERT … ON CONFLICT DO UPDATE SET count =
count + excluded.count``), so several processes add up without coordinating. A write
that fails puts its counts back for the next flush; a process killed with SIGKILL loses
at most its last few seconds of counts (a funnel is a trend, not a ledger).

Only aggregates are stored: pool id, the embedding origin (already one of the pool's
allowed origins, so it is a partner's site, never a person's), day, step id and counter
name. No user, flow, address or client address ever reaches this module.

Rows, for a two-step pool ``p`` embedded by ``https://shop.example``::

    step        counter                  meaning
    view        reached                  the form was shown to a new visitor
    account     reached                  step "account" was submitted and accepted
    account     error:password.too_short a submission of "account" was refused for it
    profile     reached                  …
    code        reached                  the code was sent (registration stored)
    code        error:code.invalid       a wrong code was typed
    activated   reached                  the code was right: the account is active
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.models import FunnelCount

log = logging.getLogger(__name__)

VIEW, CODE, ACTIVATED = "view", "code", "activated"
REACHED = "reached"
ERROR_PREFIX = "error:"
FLUSH_SECONDS = 5.0
_TABLE = cast(Table, FunnelCount.__table__)
_KEY = ("pool_id", "day", "site", "step", "counter")
#: Column sizes (models.FunnelCount): a longer value is cut, never refused.
_SITE, _STEP, _COUNTER = 255, 64, 96

Key = tuple[str, date, str, str, str]


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=list(_KEY), set_={"count": _TABLE.c.count + statement.excluded.count}
    )


_UPSERTS = {name: _upsert(name) for name in ("postgresql", "sqlite")}


class FunnelRecorder:
    """Funnel counts of this process, kept in memory and flushed to the database."""

    def __init__(self, db: Database, clock: Clock, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._db, self._clock, self._every = db, clock, flush_seconds
        self._pending: dict[Key, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def count(self, pool_id: str, site: str | None, step: str, counter: str = REACHED) -> None:
        """One more ``counter`` at ``step`` today (event loop only: no lock)."""
        key = (
            pool_id,
            self._clock.now().date(),
            (site or "")[:_SITE],
            step[:_STEP],
            counter[:_COUNTER],
        )
        self._pending[key] = self._pending.get(key, 0) + 1

    def refused(self, pool_id: str, site: str | None, step: str, ids: Iterable[str]) -> None:
        """A submission of ``step`` refused with these message ids (each counted once)."""
        for message_id in sorted(set(ids)):
            self.count(pool_id, site, step, ERROR_PREFIX + message_id)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        """Add this process's counts to the table now; return the rows written."""
        batch, self._pending = self._pending, {}
        if not batch:
            return 0
        rows = [dict(zip(_KEY, key, strict=True), count=count) for key, count in batch.items()]
        try:
            await self._db.run_write(lambda c: _write(c, rows))
        except BaseException:
            for key, count in batch.items():  # kept for the next flush
                self._pending[key] = self._pending.get(key, 0) + count
            raise
        return len(rows)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="funnel-flush")

    async def stop(self) -> None:
        """Stop the task and write what is left."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._every)
            try:
                await self.flush()
            except Exception:  # the counts wait for the next round
                log.exception("funnel: could not write the counts")


def _write(connection: Connection, rows: list[dict[str, Any]]) -> None:
    connection.execute(_UPSERTS[connection.dialect.name], rows)
