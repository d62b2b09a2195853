"""The ``jobs`` table as a queue, on any number of server processes.

A worker **claims** the oldest job that is queued, or running under a lease that has
run out (its process died), by a conditional UPDATE that sets ``lease_owner`` and
``lease_until``: PostgreSQL re-checks the WHERE after a concurrent claim commits, so two
workers never both get it (``SKIP LOCKED`` lets the second look at the next one). Every
batch ends with a **checkpoint** in the batch's own transaction: progress, cursor and a
renewed lease, conditional on the owner. A worker that lost its lease (it stalled past
``lease_until`` and another took over) finds no row, and its batch rolls back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import Job

Kind = Literal["export", "import", "bulk"]
Status = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE: tuple[Status, ...] = ("queued", "running")
FINISHED: tuple[Status, ...] = ("done", "failed", "cancelled")


class LeaseLost(Exception):
    """Another worker owns the job now; this one must stop without writing."""


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    """A job as administrators see it (the API's answer, the portal's row)."""

    id: str
    pool_id: str
    kind: str
    status: str
    done: int
    total: int | None
    params: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    requested_by: str
    requested_by_name: str
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    downloaded_at: datetime | None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.total:
            return 0
        return min(100, self.done * 100 // self.total)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def view_of(job: Job) -> JobView:
    params = dict(job.params or {})
    if isinstance(params.get("ids"), list):  # a selection: its size, not thousands of ids
        params["ids"] = len(params["ids"])
    return JobView(
        id=job.id,
        pool_id=job.pool_id,
        kind=job.kind,
        status=job.status,
        done=job.done,
        total=job.total,
        params=params,
        result=dict(job.result or {}),
        error=job.error,
        requested_by=job.requested_by,
        requested_by_name=job.requested_by_name,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        downloaded_at=job.downloaded_at,
    )


def _claimable(now: datetime) -> Any:
    return or_(
        Job.status == "queued",
        (Job.status == "running") & (Job.lease_until < now),
    )


async def claim(session: AsyncSession, owner: str, now: datetime, lease: timedelta) -> Job | None:
    """The next job for worker ``owner``, leased until ``now + lease``; None when none."""
    candidate = (
        select(Job.id)
        .where(_claimable(now))
        .order_by(Job.created_at, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    job_id = (await session.execute(candidate)).scalar_one_or_none()
    if job_id is None:
        return None
    claimed = await session.execute(
        update(Job)
        .where(Job.id == job_id, _claimable(now))
        .values(status="running", lease_owner=owner, lease_until=now + lease)
        .returning(Job.id)
    )
    if claimed.scalar_one_or_none() is None:
        return None
    await session.execute(
        update(Job).where(Job.id == job_id, Job.started_at.is_(None)).values(started_at=now)
    )
    return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def checkpoint(
    session: AsyncSession,
    job_id: str,
    owner: str,
    *,
    now: datetime,
    lease: timedelta,
    done: int,
    cursor: dict[str, Any],
    result: dict[str, Any],
    total: int | None = None,
) -> bool:
    """Record progress in the caller's transaction and renew the lease; return whether
    an administrator asked to cancel. ``LeaseLost`` (the transaction must roll back)
    when this worker no longer owns the job."""
    values: dict[str, Any] = {
        "done": done,
        "cursor": cursor,
        "result": result,
        "lease_until": now + lease,
    }
    if total is not None:
        values["total"] = total
    found = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.status == "running")
        .values(**values)
        .returning(Job.cancel_requested)
    )
    cancel = found.scalar_one_or_none()
    if cancel is None:
        raise LeaseLost(job_id)
    return bool(cancel)


async def finish(
    session: AsyncSession,
    job_id: str,
    owner: str,
    *,
    status: Status,
    now: datetime,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """End the job this worker owns; False if it does not own it any more."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": now,
        "lease_owner": None,
        "lease_until": None,
        "error": error,
    }
    if result is not None:
        values["result"] = result
    found = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.status == "running")
        .values(**values)
        .returning(Job.id)
    )
    return found.scalar_one_or_none() is not None


async def cancel(session: AsyncSession, job: Job, now: datetime) -> str:
    """Cancel a queued job at once; ask a running one to stop after its batch. Returns
    the status the job has now."""
    if job.status == "queued":
        await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "queued")
            .values(status="cancelled", finished_at=now)
        )
        return "cancelled"
    await session.execute(
        update(Job).where(Job.id == job.id, Job.status == "running").values(cancel_requested=True)
    )
    return "running"
