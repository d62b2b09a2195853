"""The transaction that completes a registration, as one synchronous function.

It is the hottest write of a release-day burst (six statements). Written against a plain
``Connection``, ``Database.run_write`` runs it on SQLite in one worker-thread hop instead
of one hop per statement (measured: ~0.4 ms per statement through aiosqlite), and on
PostgreSQL through ``run_sync`` on the async connection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import Connection, Table, delete, insert, select, update

from widget_server.errors import FlowStateError
from widget_server.mail.outbox import HOUR, lock_recipient, outbox_row, recent_to
from widget_server.mail.senders import Envelope
from widget_server.models import Address, Code, Credential, Flow, OutboxMessage, User
from widget_server.upsert import insert_ignoring_conflict_sync

# Mapped classes type ``__table__`` as a FromClause; these are Tables.
_FLOWS: Table = cast(Table, Flow.__table__)
_USERS: Table = cast(Table, User.__table__)
_ADDRESSES: Table = cast(Table, Address.__table__)
_CREDENTIALS: Table = cast(Table, Credential.__table__)
_CODES: Table = cast(Table, Code.__table__)
_OUTBOX: Table = cast(Table, OutboxMessage.__table__)


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the transaction writes, prepared outside it."""

    now: datetime
    #: Full row of a flow not saved yet, or None to claim the saved flow by (id, step).
    new_flow: dict[str, Any] | None
    flow_id: str
    flow_step: str
    flow_changes: dict[str, Any]
    user: dict[str, Any]
    address: dict[str, Any]
    credential: dict[str, Any]
    code: dict[str, Any]
    #: A pending (never activated) registration older than this gives its address up.
    abandoned_before: datetime
    #: Emails one address may receive per hour (``Settings.mail_per_address_per_hour``).
    mail_per_hour: int
    #: Renders the email: the activation code, or (``taken``) the notice to the owner.
    #: Called once, inside the transaction, so only the email that is sent is rendered.
    compose: Callable[[bool], Envelope]


def complete_registration(connection: Connection, plan: Completion) -> bool:
    """Write it all; return False if the address already had an account (then the flow
    has no user and the owner gets the notice). Raises ``FlowStateError`` if the flow was
    completed by another request first."""
    _claim(connection, plan)
    connection.execute(insert(_USERS).values(**plan.user))
    taken = not _insert_address(connection, plan)
    if taken and _release_abandoned(connection, plan):
        taken = not _insert_address(connection, plan)
    if taken:
        connection.execute(delete(_USERS).where(_USERS.c.id == plan.user["id"]))
        connection.execute(update(_FLOWS).where(_FLOWS.c.id == plan.flow_id).values(user_id=None))
    else:
        connection.execute(insert(_CREDENTIALS).values(**plan.credential))
    connection.execute(
        insert(_CODES).values(**(plan.code | {"user_id": None} if taken else plan.code))
    )
    envelope = plan.compose(taken)
    lock = lock_recipient(connection.dialect.name, envelope.recipient)
    if lock is not None:
        connection.execute(lock)
    recent = connection.execute(recent_to(envelope.recipient, plan.now - HOUR)).scalar_one()
    if recent < plan.mail_per_hour:
        connection.execute(insert(_OUTBOX).values(**outbox_row(envelope, plan.now)))
    return not taken


def _insert_address(connection: Connection, plan: Completion) -> bool:
    return insert_ignoring_conflict_sync(
        connection, _ADDRESSES, plan.address, ("pool_id", "kind", "value")
    )


def _release_abandoned(connection: Connection, plan: Completion) -> bool:
    """Free the address if it belongs to a registration that was never activated and
    whose code has expired: otherwise whoever closed the tab before entering the code
    could never sign up with that address again. Deleting the user cascades to its
    address and credential. Active, inactive, fresh pending and admin-created accounts are kept."""
    a, u = _ADDRESSES.c, _USERS.c
    owner = connection.execute(
        select(u.id)
        .join_from(_ADDRESSES, _USERS, u.id == a.user_id)
        .where(
            a.pool_id == plan.address["pool_id"],
            a.kind == plan.address["kind"],
            a.value == plan.address["value"],
            a.status == "unverified",
            u.status == "new",
            u.created_by.is_(None),  # an admin's invitation waits for its owner
            u.created_at < plan.abandoned_before,
        )
    ).scalar_one_or_none()
    if owner is None:
        return False
    connection.execute(delete(_USERS).where(u.id == owner, u.status == "new"))
    return True


def _claim(connection: Connection, plan: Completion) -> None:
    if plan.new_flow is not None:
        values = plan.new_flow | plan.flow_changes
        if not insert_ignoring_conflict_sync(connection, _FLOWS, values, ("id",)):
            raise FlowStateError()
        return
    claimed = connection.execute(
        update(_FLOWS)
        .where(
            _FLOWS.c.id == plan.flow_id, _FLOWS.c.state == "form", _FLOWS.c.step == plan.flow_step
        )
        .values(**plan.flow_changes)
    )
    if claimed.rowcount != 1:
        raise FlowStateError()
