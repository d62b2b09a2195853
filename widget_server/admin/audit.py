"""The audit log: one row per admin action, written in the same transaction as the action
(so there is no action without its record), plus a row for every refused attempt.

End users' own events are in it too (``record_user_event``: ``user.registered``,
``user.activated``, ``user.password_reset``), with no actor and ``actor_name``
``END_USER``, so a pool admin can answer "what happened to this account" from one
list (filter by ``target_id``).

Rows name users by id only, so deleting a user's personal data keeps the trail intact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin.access import Actor
from widget_server.db import Database
from widget_server.models import AuditEvent

Outcome = Literal["ok", "denied", "failed"]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    created_at: datetime
    actor_id: str | None
    actor_name: str
    action: str
    target_type: str
    target_id: str | None
    pool_id: str | None
    outcome: str
    ip: str | None
    details: dict[str, Any]


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: str | None,
    pool_id: str | None,
    now: datetime,
    outcome: Outcome = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    await session.execute(
        insert(AuditEvent).values(
            tenant_id=actor.tenant_id,
            pool_id=pool_id,
            actor_id=actor.principal.id,
            actor_name=actor.principal.name[:200],
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            ip=(actor.ip or "")[:64] or None,
            details=details or {},
            created_at=now,
        )
    )


async def record_many(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    targets: list[tuple[str, dict[str, Any]]],
    pool_id: str | None,
    now: datetime,
) -> None:
    """One row per ``(target id, details)``, in one statement (a batch of a job)."""
    if not targets:
        return
    await session.execute(
        insert(AuditEvent),
        [
            {
                "tenant_id": actor.tenant_id,
                "pool_id": pool_id,
                "actor_id": actor.principal.id,
                "actor_name": actor.principal.name[:200],
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "outcome": "ok",
                "ip": (actor.ip or "")[:64] or None,
                "details": details,
                "created_at": now,
            }
            for target_id, details in targets
        ],
    )


async def record_system(
    session: AsyncSession,
    *,
    tenant_id: str,
    pool_id: str | None,
    actor_id: str | None,
    actor_name: str,
    action: str,
    target_type: str,
    target_id: str | None,
    now: datetime,
    outcome: Outcome = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    """A row written by the server on someone's behalf (a background job ending), named
    after the person who started it; no address, since no request made it."""
    await session.execute(
        insert(AuditEvent).values(
            tenant_id=tenant_id,
            pool_id=pool_id,
            actor_id=actor_id,
            actor_name=actor_name[:200],
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            ip=None,
            details=details or {},
            created_at=now,
        )
    )


#: ``actor_name`` of the rows the end user's own actions write.
END_USER = "(the user)"


async def record_user_event(
    session: AsyncSession,
    tenant_id: str,
    pool_id: str,
    user_id: str,
    action: str,
    now: datetime,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    """An end user's own event, in the transaction of the change it records."""
    await record_system(
        session,
        tenant_id=tenant_id,
        pool_id=pool_id,
        actor_id=None,
        actor_name=END_USER,
        action=action,
        target_type="user",
        target_id=user_id,
        now=now,
        details=details,
    )

async def record_denied(
    db: Database,
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: str | None,
    pool_id: str | None,
    now: datetime,
) -> None:
    """A refused attempt, in its own transaction (the action itself wrote nothing)."""
    async with db.write() as session:
        await record(
            session,
            actor,
            action,
            target_type=target_type,
            target_id=target_id,
            pool_id=pool_id,
            now=now,
            outcome="denied",
        )


async def events(
    db: Database,
    tenant_id: str,
    *,
    pool_id: str | None = None,
    target_id: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if pool_id is not None:
        query = query.where(AuditEvent.pool_id == pool_id)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    query = query.order_by(AuditEvent.id.desc()).limit(limit)
    async with db.read() as session:
        rows = (await session.execute(query)).scalars().all()
    return [
        AuditEntry(
            id=r.id,
            created_at=r.created_at,
            actor_id=r.actor_id,
            actor_name=r.actor_name,
            action=r.action,
            target_type=r.target_type,
            target_id=r.target_id,
            pool_id=r.pool_id,
            outcome=r.outcome,
            ip=r.ip,
            details=r.details,
        )
        for r in rows
    ]
