"""Jobs as administrators start, follow, cancel and download them. Every function is
guarded like ``admin/users.py`` (tenant, pool scope, role; refusals audited) and writes
its audit row in its own transaction. A job of another pool, or one that does not
exist, is ``NotFound("job")`` either way, audited as denied.

Exports need ``users.read`` (they show what the users list shows); imports and bulk
actions ``users.write``. Only the administrator who asked may download an export, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import PERMISSIONS, Action, Actor
from widget_server.admin.guard import guarded_pool
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.jobs import bulk, export, files, importing, store
from widget_server.jobs.reading import Format
from widget_server.jobs.store import JobView, view_of
from widget_server.messages import msg
from widget_server.models import Job
from widget_server.pools import PoolView
from widget_server.services import Services

T = TypeVar("T")
MAX_LIST = 100


async def start_export(
    services: Services, actor: Actor, pool_id: str, params: export.ExportParams
) -> JobView:
    pool = await guarded_pool(services, actor, "users.read", pool_id, target_type="job")
    export.check(pool, params)
    return await create(services, actor, pool, "export", msgspec.to_builtins(params))


async def start_bulk(
    services: Services, actor: Actor, pool_id: str, params: bulk.BulkParams
) -> JobView:
    """Queue a bulk action (one changing job per pool at a time: ``jobs.busy``)."""
    pool = await guarded_pool(services, actor, "users.write", pool_id, target_type="job")
    bulk.check(pool, params)
    return await create(services, actor, pool, "bulk", msgspec.to_builtins(params))


async def create(
    services: Services,
    actor: Actor,
    pool: PoolView,
    kind: store.Kind,
    params: dict[str, Any],
    *,
    job_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> JobView:
    """Queue a job (audited as ``job.create``); a second changing job of the pool while
    one is queued or running is ``Conflict("jobs.busy")``, nothing stored."""
    now = services.clock.now()
    job = Job(
        id=job_id or secrets_.new_id(),
        tenant_id=pool.tenant_id,
        pool_id=pool.id,
        kind=kind,
        exclusive=kind != "export" and not params.get("dry_run", False),
        requested_by=actor.principal.id,
        requested_by_name=actor.principal.name[:200],
        status="queued",
        cancel_requested=False,
        done=0,
        total=None,
        params=params | ({"requested_from": actor.ip} if actor.ip else {}),
        result={},
        cursor={},
        error=None,
        created_at=now,
    )
    try:
        async with services.db.write() as session:
            session.add(job)
            await session.flush()
            await audit.record(
                session,
                actor,
                "job.create",
                target_type="job",
                target_id=job.id,
                pool_id=pool.id,
                now=now,
                details={"kind": kind, **(details or _summary(params))},
            )
    except IntegrityError:
        raise Conflict("jobs.busy") from None
    services.notify_jobs()
    return view_of(job)


def _summary(params: dict[str, Any]) -> dict[str, Any]:
    """What the audit row says of the parameters: names and counts, no values."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in ("ids",) and isinstance(value, list):
            out["ids"] = len(value)
        elif key in ("format", "columns", "action", "dry_run", "key", "source"):
            out[key] = value
        elif key == "search" and isinstance(value, dict):
            out["search"] = sorted(k for k, v in value.items() if v)
    return out


async def list_jobs(
    services: Services, actor: Actor, pool_id: str, limit: int = 50
) -> list[JobView]:
    """Newest first."""
    pool = await guarded_pool(services, actor, "users.read", pool_id, target_type="job")
    async with services.db.read() as session:
        found = await session.execute(
            select(Job)
            .where(Job.pool_id == pool.id)
            .order_by(Job.created_at.desc(), Job.id)
            .limit(max(1, min(limit, MAX_LIST)))
        )
        return [view_of(j) for j in found.scalars()]


async def get_job(services: Services, actor: Actor, pool_id: str, job_id: str) -> JobView:
    async def read(session: AsyncSession, pool: PoolView, job: Job) -> JobView:
        return view_of(job)

    return await _with_job(services, actor, pool_id, job_id, "users.read", read, write=False)


async def cancel_job(services: Services, actor: Actor, pool_id: str, job_id: str) -> JobView:
    """A queued job ends at once; a running one after its current batch (what it
    changed so far stays changed, each change audited)."""

    async def work(session: AsyncSession, pool: PoolView, job: Job) -> JobView:
        if job.status not in store.ACTIVE:
            raise Conflict("jobs.finished")
        if job.requested_by != actor.principal.id and not _may(actor, "users.write"):
            raise NotFound("job")
        now = services.clock.now()
        await store.cancel(session, job, now)
        await audit.record(
            session,
            actor,
            "job.cancel",
            target_type="job",
            target_id=job.id,
            pool_id=pool.id,
            now=now,
            details={"kind": job.kind, "done": job.done},
        )
        await session.refresh(job)
        return view_of(job)

    return await _with_job(services, actor, pool_id, job_id, "users.read", work)


def _may(actor: Actor, action: Action) -> bool:
    return action in PERMISSIONS[actor.principal.role]


class Download(msgspec.Struct, frozen=True):
    path: Path
    filename: str
    media_type: str


async def open_download(services: Services, actor: Actor, pool_id: str, job_id: str) -> Download:
    """The export's file, for its requester, once: marked downloaded here (audited as
    ``job.download``); the caller streams it and then deletes it (``files.remove``)."""

    async def work(session: AsyncSession, pool: PoolView, job: Job) -> Download:
        name = (job.result or {}).get("file")
        if job.kind != "export" or job.requested_by != actor.principal.id:
            raise NotFound("job")
        if job.status != "done" or job.downloaded_at is not None or not isinstance(name, str):
            raise Conflict("jobs.not_downloadable")
        path = files.path_of(services.settings, name)
        if not path.exists():
            raise Conflict("jobs.file_gone")
        now = services.clock.now()
        marked = await session.execute(
            update(Job)
            .where(Job.id == job.id, Job.downloaded_at.is_(None))
            .values(downloaded_at=now)
            .returning(Job.id)
        )
        if marked.scalar_one_or_none() is None:  # a second download racing this one
            raise Conflict("jobs.not_downloadable")
        await audit.record(
            session,
            actor,
            "job.download",
            target_type="job",
            target_id=job.id,
            pool_id=pool.id,
            now=now,
            details={"rows": job.result.get("rows")},
        )
        fmt = job.result.get("format", "csv")
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
        return Download(path, f"{pool.id}-users-{job.id[:8]}.{fmt}", media)

    return await _with_job(services, actor, pool_id, job_id, "users.read", work)


# --- imports -----------------------------------------------------------------------------


async def receive_upload(
    services: Services,
    actor: Actor,
    pool_id: str,
    fmt: Format,
    chunks: AsyncIterator[bytes],
) -> JobView:
    """Store an uploaded import file (streamed to disk, at most ``import_max_bytes``)
    and queue its dry run, which reports every problem and writes no user."""
    await may_import(services, actor, pool_id)
    job_id = secrets_.new_id()
    size = await save_upload(services, importing.upload_name(job_id), chunks)
    return await queue_dry_run(services, actor, pool_id, fmt, job_id, size)


async def may_import(services: Services, actor: Actor, pool_id: str) -> PoolView:
    """Check before anything is uploaded (a refusal is audited like any other)."""
    return await guarded_pool(services, actor, "users.write", pool_id, target_type="job")


async def queue_dry_run(
    services: Services, actor: Actor, pool_id: str, fmt: Format, job_id: str, size: int
) -> JobView:
    """The dry run of the file ``save_upload`` stored for ``job_id``."""
    pool = await may_import(services, actor, pool_id)
    params = {"format": fmt, "dry_run": True, "file": importing.upload_name(job_id)}
    details = {"format": fmt, "dry_run": True, "bytes": size}
    return await create(services, actor, pool, "import", params, job_id=job_id, details=details)


async def save_upload(services: Services, name: str, chunks: AsyncIterator[bytes]) -> int:
    """Write ``chunks`` to the job file ``name``; ``InvalidInput`` on ``file`` when it is
    empty or too large (nothing kept)."""
    limit = services.settings.import_max_bytes
    path = files.path_of(services.settings, name)
    size = 0
    file = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                break
            await asyncio.to_thread(file.write, chunk)
    except BaseException:
        file.close()
        files.remove(services.settings, name)
        raise
    file.close()
    if size > limit or size == 0:
        files.remove(services.settings, name)
        found = msg("jobs.file_too_large", max=limit) if size else msg("jobs.file_missing")
        raise InvalidInput({"file": [found]})
    return size


async def start_import(services: Services, actor: Actor, pool_id: str, check_id: str) -> JobView:
    """Import the file a finished dry run checked (rows with problems are skipped;
    addresses already in the pool too, so starting it twice creates nobody twice)."""

    async def source(session: AsyncSession, pool: PoolView, job: Job) -> dict[str, Any]:
        result = job.result or {}
        ready = job.kind == "import" and job.params.get("dry_run") and job.status == "done"
        if not ready or not result.get("importable"):
            raise Conflict("jobs.not_checked")
        return {"format": job.params["format"], "file": job.params["file"]}

    found = await _with_job(services, actor, pool_id, check_id, "users.write", source, write=False)
    pool = await guarded_pool(services, actor, "users.write", pool_id, target_type="job")
    params = found | {"dry_run": False, "source": check_id}
    return await create(services, actor, pool, "import", params)


class ProblemPage(msgspec.Struct, frozen=True, kw_only=True):
    """Problems of a dry run: ``line``, ``field`` (null: the line as a whole), message
    ``id`` and its ``params``."""

    total: int
    offset: int
    items: list[dict[str, Any]]


async def import_problems(
    services: Services, actor: Actor, pool_id: str, job_id: str, offset: int = 0, limit: int = 100
) -> ProblemPage:
    async def read(session: AsyncSession, pool: PoolView, job: Job) -> ProblemPage:
        name = (job.result or {}).get("errors_file")
        if job.kind != "import" or not isinstance(name, str):
            raise NotFound("job")
        path = files.path_of(services.settings, name)
        items = (
            await asyncio.to_thread(importing.problems_page, path, offset, limit)
            if path.exists()
            else []
        )
        return ProblemPage(total=int(job.result.get("problems", 0)), offset=offset, items=items)

    return await _with_job(services, actor, pool_id, job_id, "users.read", read, write=False)


class _Missing(Exception):
    pass


async def _with_job(
    services: Services,
    actor: Actor,
    pool_id: str,
    job_id: str,
    permission: Action,
    work: Callable[[AsyncSession, PoolView, Job], Awaitable[T]],
    *,
    write: bool = True,
) -> T:
    pool = await guarded_pool(
        services, actor, permission, pool_id, target_type="job", target_id=job_id[:64]
    )
    opened = services.db.write() if write else services.db.read()
    try:
        async with opened as session:
            query = select(Job).where(Job.id == job_id, Job.pool_id == pool.id)
            job = (
                await session.execute(query.with_for_update() if write else query)
            ).scalar_one_or_none()
            if job is None:
                raise _Missing()
            return await work(session, pool, job)
    except (_Missing, NotFound):
        await audit.record_denied(
            services.db,
            actor,
            permission,
            target_type="job",
            target_id=job_id[:64],
            pool_id=pool.id,
            now=services.clock.now(),
        )
        raise NotFound("job") from None
