"""What a running job's code gets from the worker: the services, the job as claimed,
the pool, the administrator who asked, and the checkpoint that records each batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin.access import Actor
from widget_server.jobs import store
from widget_server.models import Job
from widget_server.pools import PoolView
from widget_server.services import Services

T = TypeVar("T")
#: Facts the service adds to a job's parameters that are not the job's own input.
BESIDE_PARAMS = frozenset({"requested_from"})


class Cancelled(Exception):
    """An administrator cancelled the job; it stops after the batch it was in."""


class Interrupted(Exception):
    """The server is stopping: the job stops after its batch and is resumed by a worker
    (this process after a restart, or another) from its last checkpoint."""


@dataclass
class JobContext:
    services: Services
    job: Job
    owner: str
    lease: timedelta
    pool: PoolView
    actor: Actor
    #: Counters and facts shown with the job (rows, created, skipped, file name).
    result: dict[str, Any]
    cursor: dict[str, Any]
    done: int
    stopping: Callable[[], bool] = lambda: False
    _cancel: bool = field(default=False, init=False)

    def params(self, kind: type[T]) -> T:
        """The job's parameters as the struct its kind takes (as checked when queued)."""
        own = {k: v for k, v in (self.job.params or {}).items() if k not in BESIDE_PARAMS}
        return msgspec.convert(own, kind)

    async def checkpoint(self, session: AsyncSession, total: int | None = None) -> None:
        """Record ``done``, ``cursor`` and ``result`` in ``session``'s transaction (that
        of the batch's own changes, so progress and changes commit together). Call
        ``proceed`` once it has committed."""
        self._cancel = await store.checkpoint(
            session,
            self.job.id,
            self.owner,
            now=self.services.clock.now(),
            lease=self.lease,
            done=self.done,
            cursor=dict(self.cursor),
            result=dict(self.result),
            total=total,
        )

    def proceed(self) -> None:
        """After a checkpoint committed: ``Cancelled`` if an administrator asked to stop,
        ``Interrupted`` if the server is stopping."""
        if self._cancel:
            self.result["cancelled_at_row"] = self.done
            raise Cancelled()
        if self.stopping():
            raise Interrupted()

    async def save(self, total: int | None = None) -> None:
        """A checkpoint in a transaction of its own (jobs that change nothing else)."""
        async with self.services.db.write() as session:
            await self.checkpoint(session, total)
        self.proceed()
