"""Writing events: one ``webhook_events`` row, in the transaction of the change it reports,
so no event is lost when the receiver or this server is down, and a rolled-back change
reports nothing. The delivery worker fans it out to the endpoints later.

Every function first asks the pool's snapshot whether any endpoint wants the event type
(``PoolView.webhook_events``, loaded with the pool and cached with it): a pool without
endpoints, the common case, costs no query and no write. Only a pool with subscribers
pays for reading the user's profile and inserting the row.

Two ways to write: with an ``AsyncSession`` (the admin, account and flow services), or
as a row for the hot paths that run prepared statements on a plain ``Connection``
(the registration's completion, the common login), which insert it themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, cast

import msgspec
from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.fastsql import Prepared
from widget_server.forms.schema import properties, schema_key
from widget_server.models import Address, User, WebhookEvent
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.webhooks import events
from widget_server.webhooks.events import Source

_EVENTS: Table = cast(Table, WebhookEvent.__table__)
#: Built once: compiled once per dialect and found by identity in SQLAlchemy's cache.
INSERT_EVENT = insert(_EVENTS)
#: The same for a plain ``Connection`` on the hot paths (``widget_server.fastsql``).
INSERT_EVENT_PREPARED = Prepared(INSERT_EVENT)


def wants(pool: PoolView, event_type: str) -> bool:
    return event_type in pool.webhook_events


def new_message_id() -> str:
    """The ``webhook-id`` of an event: random, so ids never repeat across databases."""
    return "msg_" + secrets_.new_token()


def event_row(
    *,
    tenant_id: str,
    pool_id: str | None,
    event_type: str,
    data: msgspec.Struct,
    now: datetime,
    user_id: str | None = None,
    app_id: str | None = None,
    fanned_out: bool = False,
) -> dict[str, Any]:
    return {
        "message_id": new_message_id(),
        "tenant_id": tenant_id,
        "pool_id": pool_id,
        "app_id": app_id,
        "type": event_type,
        "user_id": user_id,
        "data": msgspec.to_builtins(data),
        "fanned_out": fanned_out,
        "created_at": now,
    }


# --- the user's profile -----------------------------------------------------------------


def public_payload(pool: PoolView, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` without the properties the schema draws as password fields."""
    hidden = _password_fields(schema_key(pool.schema))
    return {k: v for k, v in payload.items() if k not in hidden}


@lru_cache(maxsize=256)
def _password_fields(key: str) -> frozenset[str]:
    props = properties(json.loads(key))
    return frozenset(name for name, prop in props.items() if prop.get("x-widget") == "password")


async def profile(session: AsyncSession, pool: PoolView, user_id: str) -> events.UserProfile:
    """The user as the event reports it, read in the caller's transaction (after its
    change). Credentials are never selected."""
    user = (
        await session.execute(
            select(
                User.id,
                User.pool_id,
                User.status,
                User.payload,
                User.metadata_,
                User.created_at,
                User.updated_at,
                User.activated_at,
            ).where(User.id == user_id)
        )
    ).one()
    found = await session.execute(
        select(Address.kind, Address.value, Address.verified_at)
        .where(Address.user_id == user_id, Address.status == "verified")
        .order_by(Address.created_at, Address.value)
    )
    return events.UserProfile(
        id=user.id,
        pool_id=user.pool_id,
        status=user.status,
        addresses=[
            events.VerifiedAddress(
                kind=cast(events.AddressKind, kind), value=value, verified_at=verified_at
            )
            for kind, value, verified_at in found
            if verified_at is not None
        ],
        payload=public_payload(pool, user.payload or {}),
        metadata=dict(user.metadata_ or {}),
        created_at=user.created_at,
        updated_at=user.updated_at,
        activated_at=user.activated_at,
    )


# --- with a session ---------------------------------------------------------------------


async def user_event(
    session: AsyncSession,
    pool: PoolView,
    event_type: str,
    user_id: str,
    now: datetime,
    *,
    source: Source,
    app_id: str | None = None,
) -> None:
    """``user.registered`` or ``user.activated``."""
    if not wants(pool, event_type):
        return
    data = events.UserEventData(
        user=await profile(session, pool, user_id), source=source, app_id=app_id
    )
    await _insert(session, pool, event_type, data, now, user_id=user_id, app_id=app_id)


async def user_imported(
    session: AsyncSession, pool: PoolView, user_id: str, now: datetime
) -> None:
    """The hook for an import of users: call it in the transaction that inserts each user
    (after the user's row and addresses are written). It writes ``user.registered`` with
    ``source: "import"`` and, for a user imported as ``active``, ``user.activated`` too,
    the same two events an administrator's creation of an active user writes. A pool
    without subscribers costs nothing, as everywhere (``wants``)."""
    await user_event(session, pool, events.USER_REGISTERED, user_id, now, source="import")
    if not wants(pool, events.USER_ACTIVATED):
        return
    status = await session.scalar(select(User.status).where(User.id == user_id))
    if status == "active":
        await user_event(session, pool, events.USER_ACTIVATED, user_id, now, source="import")


async def user_updated(
    session: AsyncSession,
    pool: PoolView,
    user_id: str,
    now: datetime,
    *,
    source: Source,
    changes: Iterable[str],
) -> None:
    if not wants(pool, events.USER_UPDATED):
        return
    data = events.UserUpdatedData(
        user=await profile(session, pool, user_id), source=source, changes=sorted(set(changes))
    )
    await _insert(session, pool, events.USER_UPDATED, data, now, user_id=user_id)


async def user_deleted(
    session: AsyncSession, pool: PoolView, user_id: str, now: datetime, *, source: Source
) -> None:
    if not wants(pool, events.USER_DELETED):
        return
    data = deleted_data(pool, user_id, now, source=source, reason="admin")
    await _insert(session, pool, events.USER_DELETED, data, now, user_id=user_id)


async def login_succeeded(
    session: AsyncSession,
    pool: PoolView,
    user_id: str,
    app_id: str | None,
    amr: list[str],
    now: datetime,
) -> None:
    row = login_succeeded_row(pool, user_id, app_id, amr, now)
    if row is not None:
        await session.execute(INSERT_EVENT, row)


async def login_failed(
    services: Services, pool: PoolView, app_id: str | None, user_id: str | None
) -> None:
    """In a transaction of its own: a refused login changes nothing else. Written for
    unknown and known identifiers alike, so the two cost the same."""
    if not wants(pool, events.LOGIN_FAILED):
        return
    data = events.LoginFailedData(pool_id=pool.id, app_id=app_id, reason="failed", user_id=user_id)
    async with services.db.write() as session:
        now = services.clock.now()
        await _insert(session, pool, events.LOGIN_FAILED, data, now, user_id=user_id, app_id=app_id)


async def _insert(
    session: AsyncSession,
    pool: PoolView,
    event_type: str,
    data: msgspec.Struct,
    now: datetime,
    *,
    user_id: str | None,
    app_id: str | None = None,
) -> None:
    row = event_row(
        tenant_id=pool.tenant_id,
        pool_id=pool.id,
        event_type=event_type,
        data=data,
        now=now,
        user_id=user_id,
        app_id=app_id,
    )
    await session.execute(INSERT_EVENT, row)


# --- as rows, for the hot paths ---------------------------------------------------------


def deleted_data(
    pool: PoolView, user_id: str, now: datetime, *, source: Source, reason: str
) -> events.UserDeletedData:
    return events.UserDeletedData(
        user=events.DeletedUser(id=user_id, pool_id=pool.id, status="deleted", deleted_at=now),
        source=source,
        reason=reason,  # type: ignore[arg-type]
    )


def registered_row(
    pool: PoolView, user: Mapping[str, Any], app_id: str | None
) -> dict[str, Any] | None:
    """``user.registered`` of a self-registration, from the user row the completion
    inserts (status ``new``, no verified address yet); None if nobody wants it."""
    if not wants(pool, events.USER_REGISTERED):
        return None
    profile = events.UserProfile(
        id=user["id"],
        pool_id=pool.id,
        status="new",
        addresses=[],
        payload=public_payload(pool, user["payload"]),
        metadata=dict(user["metadata"]),
        created_at=user["created_at"],
        updated_at=user["updated_at"],
        activated_at=None,
    )
    data = events.UserEventData(user=profile, source="registration", app_id=app_id)
    return event_row(
        tenant_id=pool.tenant_id,
        pool_id=pool.id,
        event_type=events.USER_REGISTERED,
        data=data,
        now=user["created_at"],
        user_id=user["id"],
        app_id=app_id,
    )


#: Stands for the abandoned registration's user id until the completion knows it.
RELEASED_USER = "-"


def released_row(pool: PoolView, now: datetime) -> dict[str, Any] | None:
    """``user.deleted`` of an abandoned registration whose address a new one takes; the
    completion fills in the user id (``with_user``)."""
    if not wants(pool, events.USER_DELETED):
        return None
    data = deleted_data(pool, RELEASED_USER, now, source="registration", reason="abandoned")
    return event_row(
        tenant_id=pool.tenant_id,
        pool_id=pool.id,
        event_type=events.USER_DELETED,
        data=data,
        now=now,
        user_id=RELEASED_USER,
    )


def with_user(row: Mapping[str, Any], user_id: str) -> dict[str, Any]:
    """``released_row`` for the user it turned out to be."""
    data = dict(row["data"])
    data["user"] = dict(data["user"]) | {"id": user_id}
    return dict(row) | {"user_id": user_id, "data": data}


def login_succeeded_row(
    pool: PoolView, user_id: str, app_id: str | None, amr: list[str], now: datetime
) -> dict[str, Any] | None:
    if not wants(pool, events.LOGIN_SUCCEEDED):
        return None
    data = events.LoginSucceededData(user_id=user_id, pool_id=pool.id, app_id=app_id, amr=amr)
    return event_row(
        tenant_id=pool.tenant_id,
        pool_id=pool.id,
        event_type=events.LOGIN_SUCCEEDED,
        data=data,
        now=now,
        user_id=user_id,
        app_id=app_id,
    )


def insert_row(connection: Connection, row: Mapping[str, Any] | None) -> None:
    """Insert an event row made above, if any, on a plain connection."""
    if row is not None:
        INSERT_EVENT_PREPARED.run(connection, row)
