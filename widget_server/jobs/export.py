"""Exports of a pool's users as CSV or JSON Lines, with the columns an administrator
chose, written batch by batch to a file under ``jobs_dir`` (memory stays bounded by one
batch, whatever the pool's size), downloaded once by whoever asked.

Never in an export: password hashes, codes, TOTP seeds, sessions (none of them is even
selected), nor payload properties the schema draws as password fields.

CSV cells that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return) get a leading ``'`` (OWASP's advice on CSV
injection). JSON Lines carry the values as they are, typed.

Resuming after a crash: the checkpoint records the file's length with the last user
id written; a worker that takes the job over cuts the file back to that length and goes
on from that id.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import select

from widget_server.errors import InvalidInput
from widget_server.forms.schema import identifier_field, properties
from widget_server.jobs import files, selection
from widget_server.jobs.context import JobContext
from widget_server.messages import Msg, msg
from widget_server.models import Address, User
from widget_server.pools import PoolView

BATCH = 1000
Format = Literal["csv", "jsonl"]
#: Columns every pool has, in the order they are offered.
FIXED = (
    "id",
    "status",
    "email",
    "email_status",
    "phone",
    "phone_status",
    "created_at",
    "updated_at",
    "activated_at",
    "payload",
    "metadata",
)
DEFAULT = ("id", "email", "email_status", "status", "created_at")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_TIMES = ("created_at", "updated_at", "activated_at")

Column = Annotated[str, msgspec.Meta(max_length=140)]


class ExportParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: Format = "csv"
    columns: list[Column] = msgspec.field(default_factory=lambda: list(DEFAULT))
    #: Only the users a search of the list matches; None: every user but deleted ones.
    search: selection.Search | None = None


def columns_of(pool: PoolView) -> list[str]:
    """Every column this pool's export offers (the identifier is ``email``)."""
    identifier = identifier_field(pool.schema)
    payload = [
        f"payload.{name}"
        for name, prop in properties(pool.schema).items()
        if prop.get("x-widget") != "password" and name != identifier
    ]
    meta = pool.metadata_schema or {}
    metadata = [f"metadata.{name}" for name in properties(meta)]
    return [*FIXED, *payload, *metadata]


def check(pool: PoolView, params: ExportParams) -> None:
    errors: dict[str, list[Msg]] = {}
    offered = set(columns_of(pool))
    if not params.columns:
        errors["columns"] = [msg("jobs.no_columns")]
    unknown = [c for c in params.columns if c not in offered]
    if unknown:
        errors["columns"] = [msg("jobs.unknown_column", column=c[:100]) for c in unknown[:10]]
    if params.search is not None:
        try:
            selection.check(pool, selection.Selection(search=params.search))
        except InvalidInput as exc:
            errors |= {k: list(v) for k, v in exc.messages.items()}
    if errors:
        raise InvalidInput(errors)


def file_name(job_id: str, fmt: str) -> str:
    return f"{job_id}.{fmt}"


# --- cells -----------------------------------------------------------------------------


class Row(msgspec.Struct, frozen=True):
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    payload: dict[str, Any]
    metadata: dict[str, Any]
    #: (kind, value, status), oldest first.
    addresses: list[tuple[str, str, str]]


def value_of(row: Row, column: str) -> Any:
    """The column's value, typed (None when the user has none)."""
    if column in ("id", "status"):
        return getattr(row, column)
    if column in _TIMES:
        when = getattr(row, column)
        return when.isoformat() if when is not None else None
    if column in ("payload", "metadata"):
        return getattr(row, column)
    kind, _, part = column.partition("_")
    if kind in ("email", "phone"):
        first = next((a for a in row.addresses if a[0] == kind), None)
        if first is None:
            return None
        return first[2] if part == "status" else first[1]
    document, _, name = column.partition(".")
    return (row.payload if document == "payload" else row.metadata).get(name)


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict | list):
        text = msgspec.json.encode(value).decode()
    else:
        text = str(value)
    # A spreadsheet must show this as text, not run it as a formula.
    return "'" + text if text.startswith(_FORMULA) else text


def csv_lines(rows: Sequence[Row], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([csv_cell(value_of(row, c)) for c in columns])
    return out.getvalue()


def csv_header(columns: Sequence[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([csv_cell(c) for c in columns])
    return out.getvalue()


def jsonl_lines(rows: Sequence[Row], columns: Sequence[str]) -> bytes:
    encode = msgspec.json.encode
    return b"".join(encode({c: value_of(row, c) for c in columns}) + b"\n" for row in rows)


# --- the job ---------------------------------------------------------------------------


async def run(ctx: JobContext) -> None:
    params = ctx.params(ExportParams)
    check(ctx.pool, params)  # the schema may have changed since the job was queued
    name = file_name(ctx.job.id, params.format)
    path = files.path_of(ctx.services.settings, name)
    where = selection.conditions(
        ctx.pool,
        selection.Selection(search=params.search or selection.Search()),
        selection.dialect_of(ctx.services),
    )
    offset = int(ctx.cursor.get("offset", 0))
    if offset == 0 or not path.exists() or path.stat().st_size < offset:
        ctx.cursor, ctx.done, offset = {"after": "", "offset": 0}, 0, 0
        async with ctx.services.db.read() as session:
            total = await selection.count(session, where)
        head = csv_header(params.columns).encode() if params.format == "csv" else b""
        offset = await asyncio.to_thread(_write, path, 0, head)
        ctx.cursor["offset"] = offset
        ctx.result.update(file=name, format=params.format, bytes=offset)
        await ctx.save(total=total)
    while True:
        rows = await _batch(ctx, where, str(ctx.cursor.get("after", "")))
        if not rows:
            break
        data = (
            csv_lines(rows, params.columns).encode()
            if params.format == "csv"
            else jsonl_lines(rows, params.columns)
        )
        offset = await asyncio.to_thread(_write, path, offset, data)
        ctx.done += len(rows)
        ctx.cursor = {"after": rows[-1].id, "offset": offset}
        ctx.result.update(rows=ctx.done, bytes=offset)
        await ctx.save()
    ctx.result.update(file=name, format=params.format, rows=ctx.done, bytes=offset)


def _write(path: os.PathLike[str], offset: int, data: bytes) -> int:
    """Write ``data`` at ``offset`` (cutting off whatever an earlier run wrote past the
    last checkpoint) and return the new length."""
    mode = "r+b" if offset and os.path.exists(path) else "wb"
    with open(path, mode) as file:
        file.seek(offset)
        file.truncate()
        file.write(data)
        return file.tell()


async def _batch(ctx: JobContext, where: Sequence[Any], after: str) -> list[Row]:
    """The next ``BATCH`` users past ``after`` in id order (keyset) with their addresses:
    two queries, whatever the depth."""
    async with ctx.services.db.read() as session:
        users = (
            await session.execute(
                select(
                    User.id,
                    User.status,
                    User.created_at,
                    User.updated_at,
                    User.activated_at,
                    User.payload,
                    User.metadata_,
                )
                .where(*where, User.id > after)
                .order_by(User.id)
                .limit(BATCH)
            )
        ).all()
        if not users:
            return []
        found = await session.execute(
            select(Address.user_id, Address.kind, Address.value, Address.status)
            .where(Address.user_id.in_([u.id for u in users]))
            .order_by(Address.created_at, Address.value)
        )
        addresses: dict[str, list[tuple[str, str, str]]] = {}
        for user_id, kind, value, status in found:
            addresses.setdefault(user_id, []).append((kind, value, status))
    hidden = _password_fields(ctx.pool)
    return [
        Row(
            u.id,
            u.status,
            u.created_at,
            u.updated_at,
            u.activated_at,
            {k: v for k, v in (u.payload or {}).items() if k not in hidden},
            dict(u.metadata_ or {}),
            addresses.get(u.id, []),
        )
        for u in users
    ]


def _password_fields(pool: PoolView) -> frozenset[str]:
    return frozenset(
        name for name, prop in properties(pool.schema).items() if prop.get("x-widget") == "password"
    )
