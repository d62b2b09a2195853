"""The transaction that completes a registration on SQLite, as one synchronous function
(PostgreSQL runs the same steps in a database function: ``completion_pg.py``).

It is the hottest write of a release-day burst (ten statements, the same ones for a new
address as for a taken one). Written against a plain ``Connection``,
``Database.run_write`` runs it in one worker-thread hop instead of one hop per
statement (measured: ~0.4 ms per statement through aiosqlite).

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
from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, select, update

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
_INSERT_ADDRESS = PreparedInsertIgnoring(_ADDRESSES, "pool_id", "kind", "value")
_INSERT_CREDENTIAL = Prepared(insert(_CREDENTIALS))
_INSERT_CODE = Prepared(insert(_CODES))
_RECENT_TO = Prepared(RECENT_TO)
_INSERT_OUTBOX = Prepared(INSERT_OUTBOX)
_a, _u = _ADDRESSES.c, _USERS.c
#: The address's owner, and whether that is a registration given up: never activated,
#: not an administrator's invitation (which waits for its owner), older than the code.
_OWNER = Prepared(
    select(
        _u.id,
        and_(
            _a.status == "unverified",
            _u.status == "new",
            _u.created_by.is_(None),
            _u.created_at < bindparam("b_before"),
        ),
    )
    .join_from(_ADDRESSES, _USERS, _u.id == _a.user_id)
    .where(
        _a.pool_id == bindparam("b_pool"),
        _a.kind == bindparam("b_kind"),
        _a.value == bindparam("b_value"),
    )
)
_DELETE_NEW_USER = Prepared(delete(_USERS).where(_u.id == bindparam("b_id"), _u.status == "new"))


def complete_registration(connection: Connection, plan: Completion) -> bool:
    """Write it all; return False if the address already had an account (then the flow
    has no user and the owner gets the notice). Raises ``FlowStateError`` if the flow was
    completed by another request first (nothing is kept: the transaction rolls back).

    A new and a taken address run the same statements, in the same order, and write the
    same rows: for a taken address the new account's rows (user, address under a
    stand-in value, credential, webhook event) are written too and rolled back to a
    savepoint. Each email is rendered from the same cache. The answer must not tell
    them apart by its time (tests/web/test_timing.py): before, the taken path ran two
    statements more and rendered its notice afresh (~0.13 ms of ~0.19 ms), and then,
    with as many statements, still wrote less (~0.05 ms on SQLite)."""
    taken = _owner_kept(connection, plan)
    _claim(connection, plan, None if taken else plan.user["id"])
    _INSERT_CODE.run(connection, plan.code | {"user_id": None if taken else plan.user["id"]})
    envelope = plan.compose(taken)
    lock = lock_recipient(connection.dialect.name)
    if lock is not None:
        connection.execute(lock, {"recipient": envelope.recipient})
    since = {"recipient": envelope.recipient, "since": plan.now - HOUR}
    if _RECENT_TO.scalar(connection, since) < plan.mail_per_hour:
        _INSERT_OUTBOX.run(connection, outbox_row(envelope, plan.now, plan.channel))
    # Last, so that no statement runs after a rollback (SQLite ran the ones after it
    # ~25 us slower each). The claim wrote, so the driver has opened the transaction: a
    # savepoint taken outside one would begin a transaction of its own that RELEASE
    # would commit.
    savepoint = connection.begin_nested()
    _INSERT_USER.run(connection, plan.user)
    address = _stand_in(plan) if taken else plan.address
    if not _INSERT_ADDRESS.inserted(connection, address):  # SQLite: one writer at a time
        raise RuntimeError("an address appeared inside the write transaction")
    _INSERT_CREDENTIAL.run(connection, plan.credential)
    emit.insert_row(connection, plan.event)
    if taken:
        savepoint.rollback()
    else:
        savepoint.commit()
    return not taken


def _stand_in(plan: Completion) -> dict[str, Any]:
    """The address row written (and rolled back) for a taken address: the same row
    under a value no address has (``#`` and the new user's id)."""
    return plan.address | {"value": f"#{plan.user['id']}"}


def _owner_kept(connection: Connection, plan: Completion) -> bool:
    """Whether the address has an account that keeps it. A registration that was never
    activated and whose code has expired gives it up (deleting the user cascades to its
    address and credential): otherwise whoever closed the tab before entering the code
    could never sign up with that address again. Active, inactive, fresh pending and
    admin-created accounts keep it. One lookup for every address, new or taken."""
    owner = _OWNER.first(
        connection,
        {
            "b_before": plan.abandoned_before,
            "b_pool": plan.address["pool_id"],
            "b_kind": plan.address["kind"],
            "b_value": plan.address["value"],
        },
    )
    if owner is None:
        return False
    owner_id, abandoned = owner
    if not abandoned:
        return True
    released = _DELETE_NEW_USER.rowcount(connection, {"b_id": owner_id}) == 1
    if released and plan.released_event is not None:
        emit.insert_row(connection, emit.with_user(plan.released_event, owner_id))
    return not released


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
