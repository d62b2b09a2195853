"""Imports of users from a CSV or JSON Lines file, in two jobs: a **dry run** that
reads every line and reports every problem (line, field, message id) while writing
nothing, then the **import** an administrator starts from a finished dry run.

Each row passes the checks an administrator's new user passes (``users/inputs.py``:
address format and the pool's domains, the payload schema, the metadata schema, size
bounds), then these of its own: a status of ``new`` or ``active``, a self-describing
password hash (``passwords/imported.py``; ``active`` needs one), an address not twice
in the file, and not already a user's of the pool.

The import creates ``new`` users with an invitation (sent through the outbox, spread
to ``Settings.import_invitations_per_minute``) and ``active`` users with their imported
hash, verified at their first login and then rehashed to ours. Each batch is one
transaction with its checkpoint (the byte offset reached), so a crash loses at most
the batch in flight, and the worker that takes over resumes after the last committed
one. It is idempotent by address: a row whose address is already a user's of the
pool is skipped, so a re-run, or a resumed run, never makes a user twice. Every user
created is audited (``user.import``) and reported to the pool's webhooks
(``user.registered``, and ``user.activated`` for active ones).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.errors import InvalidInput
from widget_server.jobs import files, reading
from widget_server.jobs.context import JobContext
from widget_server.jobs.reading import HeaderError, Problem, Record
from widget_server.messages import Msg, msg
from widget_server.models import Address, Credential, OutboxMessage, User
from widget_server.passwords.imported import format_of
from widget_server.pools import PoolView
from widget_server.users import invitations
from widget_server.users.inputs import checked_metadata, new_payload, normalise_email
from widget_server.webhooks import emit
from widget_server.webhooks.events import USER_ACTIVATED, USER_REGISTERED

T = TypeVar("T")
#: Lines per transaction (and checkpoint): a crash loses at most one batch.
BATCH = 500
#: Attempts at a batch whose addresses another request took meanwhile (PostgreSQL).
ATTEMPTS = 3


class ImportParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: reading.Format
    dry_run: bool
    file: Annotated[str, msgspec.Meta(max_length=80)]
    #: The dry run this import was started from.
    source: Annotated[str, msgspec.Meta(max_length=36)] | None = None


@dataclass(frozen=True)
class Checked:
    line: int
    email: str
    status: Literal["new", "active"]
    payload: dict[str, Any]
    metadata: dict[str, Any]
    password_hash: str | None


def upload_name(job_id: str) -> str:
    return f"{job_id}.upload"


def errors_name(job_id: str) -> str:
    return f"{job_id}.errors.jsonl"


# --- one row ---------------------------------------------------------------------------


def check_record(pool: PoolView, record: Record) -> Checked | list[Problem]:
    data = record.data
    errors: dict[str, list[Msg]] = {}
    raw_email = data.get("email")
    status = data.get("status") or "new"
    if status not in ("new", "active"):
        errors["status"] = [msg("import.status")]
    hash_ = data.get("password_hash") or None
    if hash_ is not None and (not isinstance(hash_, str) or format_of(hash_) is None):
        errors["password_hash"] = [msg("import.hash_unknown")]
    elif status == "active" and hash_ is None:
        errors["password_hash"] = [msg("import.active_needs_hash")]
    payload, metadata = data.get("payload"), data.get("metadata")
    for name, value in (("payload", payload), ("metadata", metadata)):
        if not isinstance(value, dict):
            errors[name] = [msg("admin.json_object")]
    if not isinstance(raw_email, str) or not raw_email.strip():
        errors["email"] = [msg("form.required")]
        email = None
    else:
        email = _collect(errors, normalise_email, pool, raw_email[:400])
    if email and isinstance(payload, dict):
        payload = _collect(errors, new_payload, pool, email.lower(), payload)
    if isinstance(metadata, dict):
        metadata = _collect(errors, checked_metadata, pool, metadata)
    if errors or email is None:
        return [Problem(record.line, k or None, m) for k, ms in errors.items() for m in ms]
    assert isinstance(payload, dict) and isinstance(metadata, dict)
    kind: Literal["new", "active"] = "active" if status == "active" else "new"
    return Checked(record.line, email.lower(), kind, payload, metadata, hash_)


def _collect(errors: dict[str, list[Msg]], check: Callable[..., T], *args: Any) -> T | None:
    try:
        return check(*args)
    except InvalidInput as exc:
        for key, found in exc.messages.items():
            errors.setdefault(key, []).extend(found)
        return None


# --- a batch of lines, read in a thread -------------------------------------------------


@dataclass
class Batch:
    rows: list[Checked] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: Lines read that held a user (valid or not).
    records: int = 0
    #: Lines with at least one problem.
    invalid: int = 0
    line: int = 0
    offset: int = 0
    end: bool = False


def read_batch(
    pool: PoolView,
    params: ImportParams,
    path: Path,
    names: Sequence[str],
    offset: int,
    line: int,
    seen: dict[bytes, int],
) -> Batch:
    """Up to ``BATCH`` users from ``offset`` (after line ``line``), each checked;
    ``seen`` (address digest → first line) finds addresses repeated in the file."""
    batch = Batch(line=line, offset=offset)
    with path.open("rb") as file:
        file.seek(offset)
        for number, raw, after in reading.lines(file, line):
            batch.line, batch.offset = number, after
            _read_line(pool, params, names, number, raw, seen, batch)
            if batch.records >= BATCH:
                return batch
    batch.end = True
    return batch


def _read_line(
    pool: PoolView,
    params: ImportParams,
    names: Sequence[str],
    number: int,
    raw: bytes | None,
    seen: dict[bytes, int],
    batch: Batch,
) -> None:
    text, problem = reading.decode(number, raw)
    if text is not None and not text.strip():
        return  # blank lines hold nobody
    batch.records += 1
    if problem is None and text is not None:
        record = (
            reading.csv_record(pool, names, number, text)
            if params.format == "csv"
            else reading.jsonl_record(pool, number, text)
        )
        problem = record if isinstance(record, Problem) else None
        if isinstance(record, Record):
            checked = check_record(pool, record)
            if isinstance(checked, Checked):
                digest = hashlib.blake2b(checked.email.encode(), digest_size=16).digest()
                first = seen.setdefault(digest, number)
                if first == number:
                    batch.rows.append(checked)
                    return
                checked = [Problem(number, "email", msg("import.duplicate_in_file", line=first))]
            batch.problems.extend(checked)
            batch.invalid += 1
            return
    if problem is not None:
        batch.problems.append(problem)
        batch.invalid += 1


def _header(pool: PoolView, params: ImportParams, path: Path) -> tuple[list[str], int, int]:
    """(columns, offset after the header, its line number); JSON Lines has none."""
    if params.format != "csv":
        return [], 0, 0
    with path.open("rb") as file:
        for number, raw, after in reading.lines(file):
            return reading.header(pool, number, raw), after, number
    raise HeaderError([Problem(1, None, msg("import.header_missing"))])


async def existing(session: AsyncSession, pool_id: str, emails: Sequence[str]) -> set[str]:
    if not emails:
        return set()
    found = await session.execute(
        select(Address.value).where(
            Address.pool_id == pool_id, Address.kind == "email", Address.value.in_(emails)
        )
    )
    return set(found.scalars())


# --- the dry run -----------------------------------------------------------------------


async def dry_run(ctx: JobContext, params: ImportParams) -> None:
    """Read the whole file and report every problem; write no user. Always from the
    start (a takeover too): it is cheap, and the repeat check needs the whole file."""
    settings = ctx.services.settings
    path = files.path_of(settings, params.file)
    report = files.path_of(settings, errors_name(ctx.job.id))
    report.write_bytes(b"")
    size = path.stat().st_size
    counts = {"rows": 0, "valid": 0, "invalid": 0, "problems": 0}
    ctx.result = {"errors_file": report.name, **counts}
    ctx.done = 0
    try:
        names, offset, line = await asyncio.to_thread(_header, ctx.pool, params, path)
    except HeaderError as exc:
        await asyncio.to_thread(_append, report, exc.problems)
        ctx.result |= {"problems": len(exc.problems), "fatal": True, "importable": False}
        return
    seen: dict[bytes, int] = {}
    end = False
    while not end:
        batch = await asyncio.to_thread(
            read_batch, ctx.pool, params, path, names, offset, line, seen
        )
        async with ctx.services.db.read() as session:
            taken = await existing(session, ctx.pool.id, [r.email for r in batch.rows])
        for row in batch.rows:
            if row.email in taken:
                batch.problems.append(Problem(row.line, "email", msg("import.address_exists")))
                batch.invalid += 1
        batch.problems.sort(key=lambda p: p.line)
        await asyncio.to_thread(_append, report, batch.problems)
        counts["rows"] += batch.records
        counts["invalid"] += batch.invalid
        counts["valid"] = counts["rows"] - counts["invalid"]
        counts["problems"] += len(batch.problems)
        ctx.result |= counts
        offset, line, end = batch.offset, batch.line, batch.end
        ctx.done = offset
        await ctx.save(total=size)
    if not counts["rows"]:
        await asyncio.to_thread(_append, report, [Problem(line or 1, None, msg("import.empty"))])
        ctx.result["problems"] = counts["problems"] + 1
    ctx.result |= {"fatal": False, "importable": counts["valid"] > 0}


def _append(report: Path, problems: Sequence[Problem]) -> None:
    if problems:
        with report.open("ab") as file:
            file.write(b"".join(msgspec.json.encode(p.as_json()) + b"\n" for p in problems))


def problems_page(report: Path, offset: int, limit: int) -> list[dict[str, Any]]:
    """Problems ``offset`` to ``offset + limit`` of a dry run's report."""
    out: list[dict[str, Any]] = []
    with report.open("rb") as file:
        for index, raw in enumerate(file):
            if index >= offset + limit:
                break
            if index >= offset:
                out.append(msgspec.json.decode(raw))
    return out


# --- the import ------------------------------------------------------------------------


async def run(ctx: JobContext) -> None:
    params = ctx.params(ImportParams)
    if params.dry_run:
        await dry_run(ctx, params)
        return
    path = files.path_of(ctx.services.settings, params.file)
    size = path.stat().st_size
    if "offset" not in ctx.cursor:
        names, offset, line = await asyncio.to_thread(_header, ctx.pool, params, path)
        ctx.cursor = {"offset": offset, "line": line, "names": names}
        ctx.result = {"rows": 0, "created": 0, "existing": 0, "invalid": 0, "invited": 0}
    seen: dict[bytes, int] = {}
    names = list(ctx.cursor.get("names", []))
    offset, line = int(ctx.cursor["offset"]), int(ctx.cursor["line"])
    batch = await asyncio.to_thread(read_batch, ctx.pool, params, path, names, offset, line, seen)
    while True:
        # The next lines are read and checked in a thread while this batch is written:
        # the database's work and Python's overlap (the file is read once either way).
        ahead = None
        if not batch.end:
            after = (ctx.pool, params, path, names, batch.offset, batch.line, seen)
            ahead = asyncio.ensure_future(asyncio.to_thread(read_batch, *after))
        try:
            await _store(ctx, batch, size)
            ctx.proceed()
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            raise
        ctx.services.notify_outbox()
        if ahead is None:
            return
        batch = await ahead


async def _store(ctx: JobContext, batch: Batch, size: int) -> None:
    """The batch's users and its checkpoint, in one transaction; again (with the
    addresses taken meanwhile skipped) if a registration took one concurrently."""
    before, cursor = dict(ctx.result), dict(ctx.cursor)
    for attempt in range(ATTEMPTS):
        try:
            async with ctx.services.db.write() as session:
                taken = await existing(session, ctx.pool.id, [r.email for r in batch.rows])
                fresh = [r for r in batch.rows if r.email not in taken]
                invited = await _create(ctx, session, fresh, cursor)
                ctx.result = before | {
                    "rows": before["rows"] + batch.records,
                    "created": before["created"] + len(fresh),
                    "existing": before["existing"] + len(batch.rows) - len(fresh),
                    "invalid": before["invalid"] + batch.invalid,
                    "invited": before["invited"] + invited,
                }
                ctx.cursor = cursor | {"offset": batch.offset, "line": batch.line}
                ctx.done = batch.offset
                await ctx.checkpoint(session, total=size)
            return
        except IntegrityError:
            ctx.result, ctx.cursor = before, cursor
            if attempt == ATTEMPTS - 1:
                raise


async def _create(
    ctx: JobContext, session: AsyncSession, rows: Sequence[Checked], cursor: dict[str, Any]
) -> int:
    """Insert ``rows`` as users; return how many invitations went out."""
    if not rows:
        return 0
    services, pool, actor = ctx.services, ctx.pool, ctx.actor
    now = services.clock.now()
    ids = [secrets_.new_id() for _ in rows]
    await session.execute(
        insert(User),
        [_user(pool, r, i, now, actor.principal.id) for r, i in zip(rows, ids, strict=True)],
    )
    await session.execute(
        insert(Address), [_address(pool, r, i, now) for r, i in zip(rows, ids, strict=True)]
    )
    hashed = [(r, i) for r, i in zip(rows, ids, strict=True) if r.password_hash]
    if hashed:
        await session.execute(insert(Credential), [_credential(r, i, now) for r, i in hashed])
    invited = [(r, i) for r, i in zip(rows, ids, strict=True) if r.status == "new"]
    for row, user_id in invited:
        await invitations.invite(services, session, pool, user_id, row.email)
    await _spread(ctx, session, [r.email for r, _ in invited], cursor, now)
    await audit.record_many(
        session,
        actor,
        "user.import",
        target_type="user",
        targets=[(i, _details(ctx, r)) for r, i in zip(rows, ids, strict=True)],
        pool_id=pool.id,
        now=now,
    )
    for row, user_id in zip(rows, ids, strict=True):
        await emit.user_event(session, pool, USER_REGISTERED, user_id, now, source="admin")
        if row.status == "active":
            await emit.user_event(session, pool, USER_ACTIVATED, user_id, now, source="admin")
    return len(invited)


async def _spread(
    ctx: JobContext,
    session: AsyncSession,
    addresses: Sequence[str],
    cursor: dict[str, Any],
    now: datetime,
) -> None:
    """Hold the batch's invitations until their turn, so they leave at most
    ``import_invitations_per_minute`` (the outbox sends a row once it is due)."""
    if not addresses:
        return
    rate = max(1, ctx.services.settings.import_invitations_per_minute)
    turn = cursor.get("send_at")
    send_at = max(now, datetime.fromisoformat(turn)) if isinstance(turn, str) else now
    if send_at > now:
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.recipient.in_(list(addresses)),
                OutboxMessage.status == "pending",
                OutboxMessage.created_at == now,
            )
            .values(next_attempt_at=send_at)
        )
    cursor["send_at"] = (send_at + timedelta(seconds=60 * len(addresses) / rate)).isoformat()


def _details(ctx: JobContext, row: Checked) -> dict[str, Any]:
    return {
        "job": ctx.job.id,
        "line": row.line,
        "status": row.status,
        "fields": sorted(row.payload),
        "password": format_of(row.password_hash) if row.password_hash else None,
    }


def _user(pool: PoolView, row: Checked, user_id: str, now: datetime, by: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "pool_id": pool.id,
        "status": row.status,
        "payload": row.payload,
        "metadata_": row.metadata,
        "created_at": now,
        "updated_at": now,
        "activated_at": now if row.status == "active" else None,
        "created_by": by,
        "deleted_at": None,
    }


def _address(pool: PoolView, row: Checked, user_id: str, now: datetime) -> dict[str, Any]:
    verified = row.status == "active"
    return {
        "id": secrets_.new_id(),
        "user_id": user_id,
        "pool_id": pool.id,
        "kind": "email",
        "value": row.email,
        "status": "verified" if verified else "unverified",
        "verified_at": now if verified else None,
        "created_at": now,
    }


def _credential(row: Checked, user_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": secrets_.new_id(),
        "user_id": user_id,
        "kind": "password",
        "secret_hash": row.password_hash,
        "created_at": now,
        "updated_at": now,
    }
