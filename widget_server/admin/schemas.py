"""Identity schemas: built-in ones (read-only, shared by every tenant) and a tenant's own.

A schema is checked before it is stored (valid draft 2020-12, local references only,
no catastrophic patterns, a payload schema must be drawable as a form). Changing a
schema that pools use bumps those pools' versions, so cached forms re-render.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import Actor
from widget_server.admin.guard import guard
from widget_server.admin.validation import Problems
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.forms.safety import check_custom_schema, unrunnable_patterns
from widget_server.models import IdentitySchema, Pool
from widget_server.services import Services
from widget_server.upsert import insert_ignoring_conflict

log = logging.getLogger(__name__)

SCHEMA_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
Kind = Literal["payload", "metadata"]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SchemaView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    kind: str
    builtin: bool
    body: dict[str, Any]
    created_at: datetime
    #: Ids of the tenant's pools that use it.
    used_by: list[str]
    #: Message ids of regular expressions in it this server cannot run (a schema stored
    #: before patterns ran with RE2): their fields refuse every value until it is fixed.
    problems: list[str] = msgspec.field(default_factory=list)


class NewSchema(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name
    kind: Kind
    body: dict[str, Any]
    #: Chosen by the server when left out.
    id: Annotated[str, msgspec.Meta(min_length=2, max_length=63)] | None = None


class SchemaPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name | None = None
    body: dict[str, Any] | None = None


async def list_schemas(services: Services, actor: Actor) -> list[SchemaView]:
    await guard(services, actor, "schemas.read")
    async with services.db.read() as session:
        rows = (
            (
                await session.execute(
                    select(IdentitySchema)
                    .where(
                        or_(
                            IdentitySchema.builtin.is_(True),
                            IdentitySchema.tenant_id == actor.tenant_id,
                        )
                    )
                    .order_by(IdentitySchema.builtin.desc(), IdentitySchema.name)
                )
            )
            .scalars()
            .all()
        )
        users = await _used_by(session, actor.tenant_id)
    return [_view(r, users.get(r.id, [])) for r in rows]


async def get_schema(services: Services, actor: Actor, schema_id: str) -> SchemaView:
    await guard(services, actor, "schemas.read", target_type="schema", target_id=schema_id)
    async with services.db.read() as session:
        row = await _visible(session, actor, schema_id)
        users = await _used_by(session, actor.tenant_id)
    return _view(row, users.get(row.id, []))


async def create_schema(services: Services, actor: Actor, new: NewSchema) -> SchemaView:
    schema_id = new.id or f"{new.kind}-{secrets_.new_token()[:10].lower().replace('_', '-')}"
    await guard(services, actor, "schemas.write", target_type="schema", target_id=schema_id)
    problems = Problems()
    if not SCHEMA_ID.fullmatch(schema_id):
        problems.add("id", "admin.invalid_pool_id")
    elif schema_id.startswith("builtin-"):
        # Reserved: templates point at built-in rows by these ids.
        problems.add("id", "admin.id_reserved")
    problems.raise_if_any()
    check_custom_schema(new.body, new.kind)
    now = services.clock.now()
    async with services.db.write() as session:
        row = {
            "id": schema_id,
            "tenant_id": actor.tenant_id,
            "name": new.name,
            "kind": new.kind,
            "body": new.body,
            "builtin": False,
            "created_at": now,
        }
        if not await insert_ignoring_conflict(session, IdentitySchema, row, ("id",)):
            raise InvalidInput({"id": [Problems.message("admin.id_taken")]})
        await audit.record(
            session,
            actor,
            "schema.create",
            target_type="schema",
            target_id=schema_id,
            pool_id=None,
            now=now,
            details={"kind": new.kind},
        )
    return await get_schema(services, actor, schema_id)


async def update_schema(
    services: Services, actor: Actor, schema_id: str, patch: SchemaPatch
) -> SchemaView:
    await guard(services, actor, "schemas.write", target_type="schema", target_id=schema_id)
    now = services.clock.now()
    async with services.db.write() as session:
        row = await _own(session, actor, schema_id)
        if patch.body is not None:
            check_custom_schema(patch.body, "metadata" if row.kind == "metadata" else "payload")
        values: dict[str, Any] = {}
        if patch.name is not None:
            values["name"] = patch.name
        if patch.body is not None:
            values["body"] = patch.body
        if values:
            await session.execute(
                update(IdentitySchema).where(IdentitySchema.id == schema_id).values(**values)
            )
            pools = await _pools_using(session, schema_id)
            await session.execute(
                update(Pool).where(Pool.id.in_(pools)).values(version=Pool.version + 1)
            )
        await audit.record(
            session,
            actor,
            "schema.update",
            target_type="schema",
            target_id=schema_id,
            pool_id=None,
            now=now,
            details={"fields": sorted(values)},
        )
    for pool_id in pools if values else []:
        services.pools.forget(pool_id)
    return await get_schema(services, actor, schema_id)


async def delete_schema(services: Services, actor: Actor, schema_id: str) -> None:
    await guard(services, actor, "schemas.write", target_type="schema", target_id=schema_id)
    now = services.clock.now()
    async with services.db.write() as session:
        await _own(session, actor, schema_id)
        pools = await _pools_using(session, schema_id)
        if pools:
            raise Conflict("admin.schema_in_use", count=len(pools))
        await session.execute(delete(IdentitySchema).where(IdentitySchema.id == schema_id))
        await audit.record(
            session,
            actor,
            "schema.delete",
            target_type="schema",
            target_id=schema_id,
            pool_id=None,
            now=now,
        )


# --- helpers ---------------------------------------------------------------------------


async def _visible(session: AsyncSession, actor: Actor, schema_id: str) -> IdentitySchema:
    row = await session.get(IdentitySchema, schema_id[:64])
    if row is None or not (row.builtin or row.tenant_id == actor.tenant_id):
        raise NotFound("schema")
    return row


async def _own(session: AsyncSession, actor: Actor, schema_id: str) -> IdentitySchema:
    row = await _visible(session, actor, schema_id)
    if row.builtin:
        raise Conflict("admin.schema_builtin")
    return row


async def _pools_using(session: AsyncSession, schema_id: str) -> list[str]:
    rows = await session.execute(
        select(Pool.id).where(
            or_(Pool.payload_schema_id == schema_id, Pool.metadata_schema_id == schema_id)
        )
    )
    return [r[0] for r in rows]


async def _used_by(session: AsyncSession, tenant_id: str) -> dict[str, list[str]]:
    rows = await session.execute(
        select(Pool.id, Pool.payload_schema_id, Pool.metadata_schema_id).where(
            Pool.tenant_id == tenant_id
        )
    )
    used: dict[str, list[str]] = {}
    for pool_id, payload_id, metadata_id in rows:
        for schema_id in (payload_id, metadata_id):
            if schema_id:
                used.setdefault(schema_id, []).append(pool_id)
    return used


def _view(row: IdentitySchema, used_by: list[str]) -> SchemaView:
    return SchemaView(
        id=row.id,
        name=row.name,
        kind=row.kind,
        builtin=row.builtin,
        body=row.body,
        created_at=row.created_at,
        used_by=sorted(used_by),
        problems=_unrunnable(row.body),
    )


async def warn_unrunnable(session: AsyncSession) -> int:
    """Log every stored schema with a pattern this server cannot run; return how many.
    Called when the server starts: such a schema was stored before patterns ran with
    RE2, and its fields refuse every value until an administrator fixes it."""
    found = 0
    for row in (await session.execute(select(IdentitySchema))).scalars():
        problems = _unrunnable(row.body)
        if problems:
            found += 1
            log.warning(
                "schema %s (%s, tenant %s) has patterns this server cannot run; their "
                "fields refuse every value until the schema is fixed: %s",
                row.id,
                row.name,
                row.tenant_id or "built-in",
                "; ".join(problems),
            )
    return found


def _unrunnable(body: dict[str, Any]) -> list[str]:
    """``message-id at #/json/pointer`` for each pattern of ``body`` RE2 cannot run."""
    return [f"{m.id} at {m.params.get('where')}" for m in unrunnable_patterns(body)]
