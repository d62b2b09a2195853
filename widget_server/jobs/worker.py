"""The job worker: one per server process, started and stopped with the app, like the
outbox's.

It claims one job at a time (``store.claim``, a lease of ``Settings.job_lease_seconds``)
and runs it batch by batch; each batch renews the lease in its checkpoint. Jobs are
long and few, so one at a time per process is enough: with several processes, several
jobs run at once, each in one process. A process that dies mid-job leaves the lease to
run out; then any worker takes the job over from its last checkpoint. Stopping the
server ends the job after its current batch and hands it back at once (the lease is
cut short), so the next worker resumes it without waiting.

The job runs as the administrator who asked for it: before it starts (and when it is
taken over) their principal must still exist, be unrevoked, and have the pool in scope
with the role the job needs; otherwise the job fails with ``jobs.requester_gone``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import Action, Actor, load_principal
from widget_server.admin.guard import guarded_pool
from widget_server.errors import WidgetError
from widget_server.jobs import bulk, export, files, importing, store
from widget_server.jobs.context import Cancelled, Interrupted, JobContext
from widget_server.models import AdminPrincipal, Job
from widget_server.services import Services

log = logging.getLogger(__name__)

Runner = Callable[[JobContext], Awaitable[None]]
RUNNERS: dict[str, Runner] = {"export": export.run, "import": importing.run, "bulk": bulk.run}
PERMISSION: dict[str, Action] = {
    "export": "users.read",
    "import": "users.write",
    "bulk": "users.write",
}
#: Finished jobs' files (exports never downloaded, uploads, reports) go after this long.
KEEP_FILES = timedelta(days=1)
PURGE_EVERY = timedelta(minutes=10)


class _Gone(Exception):
    pass


class JobWorker:
    def __init__(self, services: Services) -> None:
        self._services = services
        settings = services.settings
        self.owner = secrets_.new_id()
        self._lease = timedelta(seconds=settings.job_lease_seconds)
        self._poll = settings.job_poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """A job was queued in this process: look now."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job-worker")

    async def stop(self, timeout: float = 10.0) -> None:
        """End the running job after its batch (it is handed back), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        self._stopping = False  # ``drain`` may still run jobs by hand (tests, CLI)

    async def _run(self) -> None:
        next_purge = self._services.clock.now()
        while not self._stopping:
            try:
                while not self._stopping and await self.run_once():
                    pass
                if self._services.clock.now() >= next_purge:
                    await self.purge()
                    next_purge = self._services.clock.now() + PURGE_EVERY
            except Exception:  # the worker must outlive a database hiccup
                log.exception("job round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def drain(self) -> int:
        """Run jobs until none is left to claim (tests, the command line); how many ran."""
        ran = 0
        while await self.run_once():
            ran += 1
        return ran

    async def run_once(self) -> bool:
        """Claim one job and run it to its end (or its hand-back); False if none was due."""
        services = self._services
        async with services.db.write() as session:
            job = await store.claim(session, self.owner, services.clock.now(), self._lease)
        if job is None:
            return False
        await self._execute(job)
        return True

    async def _execute(self, job: Job) -> None:
        services = self._services
        try:
            actor = await self._requester(job)
            pool = await guarded_pool(
                services,
                actor,
                PERMISSION[job.kind],
                job.pool_id,
                target_type="job",
                target_id=job.id,
            )
        except (_Gone, WidgetError):
            await self._finish(job, "failed", dict(job.result or {}), "jobs.requester_gone")
            return
        ctx = JobContext(
            services=services,
            job=job,
            owner=self.owner,
            lease=self._lease,
            pool=pool,
            actor=actor,
            result=dict(job.result or {}),
            cursor=dict(job.cursor or {}),
            done=job.done,
            stopping=lambda: self._stopping,
        )
        try:
            await RUNNERS[job.kind](ctx)
        except Cancelled:
            _discard_output(services, job)
            await self._finish(job, "cancelled", ctx.result, None)
        except Interrupted:
            await self._hand_back(job)
        except store.LeaseLost:
            log.warning("job %s: another worker took it over", job.id)
        except Exception:
            log.exception("job %s failed", job.id)
            _discard_output(services, job)
            await self._finish(job, "failed", ctx.result, "jobs.failed")
        else:
            await self._finish(job, "done", ctx.result, None)

    async def _requester(self, job: Job) -> Actor:
        async with self._services.db.read() as session:
            row = await session.get(AdminPrincipal, job.requested_by)
            if row is None or row.revoked_at is not None:
                raise _Gone()
            principal = await load_principal(session, row)
        ip = job.params.get("requested_from") if isinstance(job.params, dict) else None
        return Actor(principal=principal, ip=ip if isinstance(ip, str) else None)

    async def _finish(
        self, job: Job, status: store.Status, result: dict[str, Any], error: str | None
    ) -> None:
        services = self._services
        now = services.clock.now()
        async with services.db.write() as session:
            owned = await store.finish(
                session, job.id, self.owner, status=status, now=now, result=result, error=error
            )
            if owned:
                await _record_finish(session, job, status, result, error, now)
        services.notify_outbox()

    async def _hand_back(self, job: Job) -> None:
        """Stopping: let the next worker take the job at once instead of after the lease."""
        async with self._services.db.write() as session:
            await session.execute(
                update(Job)
                .where(Job.id == job.id, Job.lease_owner == self.owner, Job.status == "running")
                .values(lease_until=self._services.clock.now() - timedelta(seconds=1))
            )

    async def purge(self) -> int:
        """Delete the files of jobs that finished between one and two ``KEEP_FILES`` ago
        (the worker looks every ten minutes, so none is missed while a server runs),
        except an upload that a queued or running import still reads."""
        services = self._services
        now = services.clock.now()
        async with services.db.read() as session:
            old = await session.execute(
                select(Job.id).where(
                    Job.status.in_(store.FINISHED),
                    Job.finished_at < now - KEEP_FILES,
                    Job.finished_at >= now - 2 * KEEP_FILES,
                )
            )
            active = await session.execute(
                select(Job.params).where(Job.kind == "import", Job.status.in_(store.ACTIVE))
            )
            keep = {p.get("source") for (p,) in active if isinstance(p, dict)}
        removed = 0
        for (job_id,) in old:
            kept = () if job_id in keep else ("upload",)
            for suffix in ("csv", "jsonl", "errors.jsonl", *kept):
                path = files.path_of(services.settings, f"{job_id}.{suffix}")
                if path.exists():
                    path.unlink()
                    removed += 1
        return removed


def _discard_output(services: Services, job: Job) -> None:
    """A cancelled or failed export leaves no half file behind."""
    if job.kind == "export":
        for fmt in ("csv", "jsonl"):
            files.remove(services.settings, export.file_name(job.id, fmt))


async def _record_finish(
    session: Any, job: Job, status: str, result: dict[str, Any], error: str | None, now: Any
) -> None:
    details = {"kind": job.kind, "status": status, "done": result.get("rows")}
    details |= {k: v for k, v in result.items() if isinstance(v, int) and k != "bytes"}
    if error:
        details["error"] = error
    await audit.record_system(
        session,
        tenant_id=job.tenant_id,
        pool_id=job.pool_id,
        actor_id=job.requested_by,
        actor_name=job.requested_by_name,
        action=f"job.{status}",
        target_type="job",
        target_id=job.id,
        now=now,
        outcome="ok" if status != "failed" else "failed",
        details=details,
    )
