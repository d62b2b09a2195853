"""The transaction that completes a registration, as one synchronous function.

It is the hottest write of a release-day burst (eight statements, the same number for a
new address as for a taken one). Written against a plain ``Connection``,
``Database.run_write`` runs it on SQLite in one worker-thread hop instead of one hop per
statement (measured: ~0.4 ms per statement through aiosqlite), and on PostgreSQL
through ``run_sync`` on the async connection.

Every statement is built once, at import, with bound parameters, compiled once per
dialect and run on the driver's cursor (``widget_server.fastsql``). Building
``insert(t).values(**row)`` per call cost ~0.1 ms per statement in cache-key generation
alone (measured 1.36 → ~0.3 ms on SQLite); SQLAlchemy's execution bookkeeping was then
most of what was left (~25 µs a statement, against SQLite's ~14).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from widget_server.errors import FlowStateError
from widget_server.fastsql import Prepared
from widget_server.mail.outbox import HOUR, INSERT_OUTBOX, RECENT_TO, lock_recipient, outbox_row
from widget_server.mail.senders import Envelope
from widget_server.models import Address, Code, Credential, Flow, OutboxMessage, User
from widget_server.upsert import PreparedInsertIgnoring
from widget_server.webhooks import emit

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
    #: The outbox channel of what ``compose`` renders: "email", or "sms" for a phone
    #: address (the envelope then holds the number and the text).
    channel: str = "email"
    #: Webhook events (``webhooks.emit``), None when no endpoint of the pool wants them:
    #: ``user.registered`` of the new user, written only if the user is created, and
    #: ``user.deleted`` of an abandoned registration whose address this one takes.
    event: dict[str, Any] | None = None
    released_event: dict[str, Any] | None = None

    def with_secret(self, secret_hash: str) -> Completion:
        """The plan with the credential's hash, made after the plan (see ``_store``)."""
        return msgspec.structs.replace(
            self, credential=self.credential | {"secret_hash": secret_hash}
        )


# Parameters named b_* are the WHERE clause's; the others are column values.
_INSERT_FLOW = PreparedInsertIgnoring(_FLOWS, "id")
_CLAIM_FLOW = Prepared(
    update(_FLOWS).where(
        _FLOWS.c.id == bindparam("b_id"),
        _FLOWS.c.state == "form",
        _FLOWS.c.step == bindparam("b_step"),
    )
)
_INSERT_USER = Prepared(insert(_USERS))
_DELETE_USER = Prepared(delete(_USERS).where(_USERS.c.id == bindparam("b_id")))
_INSERT_ADDRESS = PreparedInsertIgnoring(_ADDRESSES, "pool_id", "kind", "value")
_INSERT_CREDENTIAL = Prepared(insert(_CREDENTIALS))
_INSERT_CODE = Prepared(insert(_CODES))
_RECENT_TO = Prepared(RECENT_TO)
_INSERT_OUTBOX = Prepared(INSERT_OUTBOX)
_a, _u = _ADDRESSES.c, _USERS.c
_ABANDONED_OWNER = Prepared(
    select(_u.id)
    .join_from(_ADDRESSES, _USERS, _u.id == _a.user_id)
    .where(
        _a.pool_id == bindparam("b_pool"),
        _a.kind == bindparam("b_kind"),
        _a.value == bindparam("b_value"),
        _a.status == "unverified",
        _u.status == "new",
        _u.created_by.is_(None),  # an admin's invitation waits for its owner
        _u.created_at < bindparam("b_before"),
    )
)
_DELETE_NEW_USER = Prepared(delete(_USERS).where(_u.id == bindparam("b_id"), _u.status == "new"))


def complete_registration(connection: Connection, plan: Completion) -> bool:
    """Write it all; return False if the address already had an account (then the flow
    has no user and the owner gets the notice). Raises ``FlowStateError`` if the flow was
    completed by another request first (nothing is kept: the transaction rolls back).

    A new and a taken address run the same statements, in the same order, one for one
    (lookup, user, address, credential or its user's removal, flow, code, outbox), and
    render their email from the same cache: the answer must not tell them apart by its
    time (tests/web/test_timing.py). Before, the taken path ran two statements more and
    rendered its notice afresh, ~0.13 ms of the transaction's ~0.19 ms."""
    _release_abandoned(connection, plan)
    _INSERT_USER.run(connection, plan.user)
    taken = not _insert_address(connection, plan)
    if taken:
        _DELETE_USER.run(connection, {"b_id": plan.user["id"]})
    else:
        _INSERT_CREDENTIAL.run(connection, plan.credential)
        emit.insert_row(connection, plan.event)
    _claim(connection, plan, None if taken else plan.user["id"])
    _INSERT_CODE.run(connection, plan.code | {"user_id": None if taken else plan.user["id"]})
    envelope = plan.compose(taken)
    lock = lock_recipient(connection.dialect.name)
    if lock is not None:
        connection.execute(lock, {"recipient": envelope.recipient})
    since = {"recipient": envelope.recipient, "since": plan.now - HOUR}
    if _RECENT_TO.scalar(connection, since) < plan.mail_per_hour:
        _INSERT_OUTBOX.run(connection, outbox_row(envelope, plan.now, plan.channel))
    return not taken


def _insert_address(connection: Connection, plan: Completion) -> bool:
    return _INSERT_ADDRESS.inserted(connection, plan.address)


def _release_abandoned(connection: Connection, plan: Completion) -> None:
    """Free the address if it belongs to a registration that was never activated and
    whose code has expired: otherwise whoever closed the tab before entering the code
    could never sign up with that address again. Deleting the user cascades to its
    address and credential. Active, inactive, fresh pending and admin-created accounts
    are kept. Looked up for every address, new or taken, so both take the same time."""
    owner = _ABANDONED_OWNER.scalar(
        connection,
        {
            "b_pool": plan.address["pool_id"],
            "b_kind": plan.address["kind"],
            "b_value": plan.address["value"],
            "b_before": plan.abandoned_before,
        },
    )
    if owner is None:
        return
    released = _DELETE_NEW_USER.rowcount(connection, {"b_id": owner}) == 1
    if released and plan.released_event is not None:
        emit.insert_row(connection, emit.with_user(plan.released_event, owner))


def _claim(connection: Connection, plan: Completion, user_id: str | None) -> None:
    """Store the flow as completed, for ``user_id`` (None: the address was taken). Last
    of the flow's writes, so the user is known; a flow another request completed first
    matches no row, and the raised error rolls everything back."""
    changes = plan.flow_changes | {"user_id": user_id}
    if plan.new_flow is not None:
        if not _INSERT_FLOW.inserted(connection, plan.new_flow | changes):
            raise FlowStateError()
        return
    claimed = _CLAIM_FLOW.rowcount(
        connection, changes | {"b_id": plan.flow_id, "b_step": plan.flow_step}
    )
    if claimed != 1:
        raise FlowStateError()
