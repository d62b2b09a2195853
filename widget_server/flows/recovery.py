"""Password recovery by a one-time code. Nothing here knows about HTTP.

::

    identify ─request→ code ─verify→ password ─reset→ done
                         ↺ resend

``identify``: the form is unsaved (a signed ticket, like login); asking for a code saves
the flow. Whether the identifier names an account or not, the same happens and the same
page follows ("if an account exists, we sent a code"): a flow in ``code``, a ``Code`` row,
one transaction. Only an active account's address gets a message; for anyone else the
code row has no user and can never succeed.

Codes are the activation codes' rules (6 digits, 10 minutes, 5 attempts counted
atomically, 60 s resend cooldown, single use), with purpose ``recovery``: the HMAC covers
purpose and flow, and every lookup filters on both, so an activation code never resets a
password and one user's recovery code never works in another user's flow. A code whose
message was not queued (the address is over its hourly limit) gets no user either: a code
nobody received must not be guessable instead.

The new password meets the pool's policy and history; it replaces the credential and
every session of the user ends, in one transaction. No audit event (an end user acted on
their own account), but a log line.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.auth import codes
from widget_server.auth.identifiers import Identifier, accepts_phone, read_identifier
from widget_server.auth.sessions import revoke_user_sessions
from widget_server.errors import (
    FlowNotFound,
    FlowStateError,
    InvalidInput,
    ResendTooSoon,
)
from widget_server.flows.base import FlowKind
from widget_server.flows.tickets import TicketFormat
from widget_server.mail.outbox import enqueue_email, has_room, insert_or_withhold
from widget_server.mail.senders import Envelope
from widget_server.messages import msg
from widget_server.models import Address, Code, Credential, Flow, User
from widget_server.passwords.history import recent_hashes, remember, reused
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.sms import compose as sms_compose
from widget_server.upsert import insert_ignoring_conflict
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

PURPOSE = "recovery"

State = Literal["identify", "code", "password", "done"]
Action = Literal["request", "verify", "resend", "reset"]

FLOW: FlowKind[State, Action] = FlowKind(
    "recovery",
    start="identify",
    transitions={
        ("identify", "request"): "code",
        ("code", "verify"): "password",
        ("code", "resend"): "code",
        ("password", "reset"): "done",
    },
    done_message="recovery.complete",
    ticket=TicketFormat("recovery-ticket", ("pool", "origin", "issued")),
)
transition = FLOW.transition


# --- the flow -----------------------------------------------------------------------------


def start(services: Services, pool: PoolView, origin: str | None) -> Flow:
    """A new, unsaved flow (``FlowKind.new``): asking for a code inserts it."""
    allowed = origin if pool.allows_origin(origin) else None
    return FLOW.new(services, pool, allowed)


async def get(services: Services, pool: PoolView, flow_id: str) -> Flow:
    return await FLOW.get(services, pool, flow_id)


async def load(
    services: Services, pool: PoolView, flow_id: str, token: str, ticket: str | None
) -> Flow:
    return await FLOW.load(services, pool, flow_id, token, ticket)


# --- asking for a code --------------------------------------------------------------------


async def request_code(services: Services, pool: PoolView, flow: Flow, typed: str) -> Flow:
    """Save the flow in ``code`` and send a code if ``typed`` names an active account."""
    target = transition(flow.state, "request")
    identifier = _readable(pool, typed)
    user_id = await _owner(services, pool, identifier)
    now = services.clock.now()
    async with services.db.write() as session:
        row = _flow_row(flow, target, identifier.value, now)
        if not await insert_ignoring_conflict(session, Flow, row, conflict_columns=("id",)):
            raise FlowStateError()
        await _issue(services, session, pool, flow.id, user_id, identifier)
    make_transient_to_detached(flow)
    flow.state, flow.address = target, identifier.value
    services.notify_outbox()
    return flow


def _readable(pool: PoolView, typed: str) -> Identifier:
    if not typed.strip():
        raise InvalidInput({"identifier": [msg("form.required")]})
    identifier = read_identifier(pool, typed)
    if identifier is None:
        phone = accepts_phone(pool) and "@" not in typed
        problem = "form.phone_invalid" if phone else "form.email_invalid"
        raise InvalidInput({"identifier": [msg(problem)]})
    return identifier


async def _owner(services: Services, pool: PoolView, identifier: Identifier) -> str | None:
    """The active user whose verified address this is; None for anyone else."""
    async with services.db.read() as session:
        return await session.scalar(
            select(User.id)
            .join(Address, Address.user_id == User.id)
            .where(
                Address.pool_id == pool.id,
                Address.kind == identifier.kind,
                Address.value == identifier.value,
                Address.status == "verified",
                User.status == "active",
            )
        )


def _flow_row(flow: Flow, state: str, address: str, now: datetime) -> dict[str, object]:
    return {
        "id": flow.id,
        "kind": FLOW.name,
        "pool_id": flow.pool_id,
        "state": state,
        "step": "",
        "data": {},
        "password_hash": None,
        "parent_origin": flow.parent_origin,
        "app_id": None,
        "oauth": {},
        "user_id": None,
        "address": address,
        "expires_at": flow.expires_at,
        "created_at": flow.created_at,
        "updated_at": now,
    }


async def _issue(
    services: Services,
    session: AsyncSession,
    pool: PoolView,
    flow_id: str,
    user_id: str | None,
    identifier: Identifier,
) -> None:
    """A new code row; a message only for an account whose address is under its hourly
    limit (otherwise the code must not be usable: it has no user). The same work either
    way: for an unknown address the message is composed, counted and inserted too, then
    rolled back to a savepoint (``insert_or_withhold``). Tells of ~1 ms (composing and
    counting) and then ~0.2 ms on PostgreSQL (the row itself) were measurable with a
    few hundred requests; tests/web/test_timing.py keeps them gone."""
    code = secrets_.new_code()
    message, channel = _message(services, pool, identifier, code)
    per_hour = services.settings.mail_per_address_per_hour
    room = await has_room(session, services.clock, message.recipient, per_hour)
    keep = room and user_id is not None
    if keep:
        services.telemetry.metrics.code_sent(PURPOSE)
    elif user_id is not None:
        log.warning("outbox: dropped a message to an address over its hourly limit")
    row = _code_row(services, flow_id, user_id if keep else None, code)
    await session.execute(insert(Code).values(**row))  # a write first: see insert_or_withhold
    await insert_or_withhold(session, services.clock, message, channel, keep=keep)


def _message(services: Services, pool: PoolView, to: Identifier, code: str) -> tuple[Envelope, str]:
    """The code's message, by email or by SMS as the address needs, and its channel."""
    minutes = services.settings.code_ttl_seconds // 60
    if to.kind == "email":
        return services.composer.recovery_code(to.value, code, pool, minutes), "email"
    return sms_compose.recovery_code(to.value, code, pool.name, minutes), "sms"


async def _notify_reset(
    services: Services, session: AsyncSession, pool: PoolView, to: Identifier
) -> None:
    per_hour = services.settings.mail_per_address_per_hour
    if to.kind == "email":
        notice = services.composer.password_changed(to.value, pool)
        await enqueue_email(session, services.clock, notice, per_hour)
    else:
        text = sms_compose.password_changed(to.value, pool.name)
        await enqueue_email(session, services.clock, text, per_hour, channel="sms")


def _code_row(
    services: Services, flow_id: str, user_id: str | None, code: str
) -> dict[str, object]:
    settings, now = services.settings, services.clock.now()
    return {
        "id": secrets_.new_id(),
        "flow_id": flow_id,
        "user_id": user_id,
        "purpose": PURPOSE,
        "code_hash": secrets_.keyed_hash(settings.secret_key, PURPOSE, flow_id, code),
        "expires_at": now + timedelta(seconds=settings.code_ttl_seconds),
        "attempts": 0,
        "max_attempts": settings.code_max_attempts,
        "sent_at": now,
        "used_at": None,
    }


async def resend_code(services: Services, pool: PoolView, flow: Flow) -> Flow:
    transition(flow.state, "resend")
    now = services.clock.now()
    cooldown = timedelta(seconds=services.settings.code_resend_cooldown_seconds)
    identifier = read_identifier(pool, flow.address or "")
    outcome: ResendTooSoon | None = None
    async with services.db.write() as session:
        current = await codes.current(session, PURPOSE, flow.id)
        if current is not None and not await codes.retire(session, current, now - cooldown, now):
            wait = int((current.sent_at + cooldown - now).total_seconds()) + 1
            outcome = ResendTooSoon(max(wait, 1))
        elif identifier is not None:
            # Looked up again: the account may have been deactivated meanwhile.
            user_id = await _owner(services, pool, identifier)
            await _issue(services, session, pool, flow.id, user_id, identifier)
    if outcome is not None:
        raise outcome
    services.notify_outbox()
    return flow


# --- the code -----------------------------------------------------------------------------


async def verify_code(services: Services, pool: PoolView, flow: Flow, code: str) -> Flow:
    transition(flow.state, "verify")
    # isascii: str.isdigit() also accepts "١٢٣٤٥٦" and "²", which must not cost an attempt.
    if not (len(code) == secrets_.CODE_DIGITS and code.isascii() and code.isdigit()):
        raise InvalidInput({"code": [msg("code.format")]})
    # Decide inside the transaction, raise after it: a wrong guess must be committed.
    async with services.db.write() as session:
        outcome = await _check_code(services, session, flow, code)
    if isinstance(outcome, Exception):
        raise outcome
    flow.state, flow.user_id = "password", outcome
    return flow


async def _check_code(
    services: Services, session: AsyncSession, flow: Flow, code: str
) -> Exception | str:
    found = await codes.check_in_flow(
        services, session, PURPOSE, flow.id, code, done_message="recovery.complete"
    )
    if isinstance(found, Exception):
        return found
    return await _accept(session, flow, found, services.clock.now())


async def _accept(session: AsyncSession, flow: Flow, code: Code, now: datetime) -> Exception | str:
    # The code is used already (``codes.check``, conditional: one request wins).
    moved = await session.execute(
        update(Flow)
        .where(Flow.id == flow.id, Flow.state == "code")
        .values(state="password", user_id=code.user_id, updated_at=now)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return FlowStateError("recovery.complete")
    assert code.user_id is not None
    return code.user_id


# --- the new password ---------------------------------------------------------------------


async def reset_password(services: Services, pool: PoolView, flow: Flow, password: str) -> Flow:
    """Policy and history first; then, in one transaction: the flow is done, the
    credential replaced, the history kept and every session of the user revoked."""
    transition(flow.state, "reset")
    user_id, address = flow.user_id, flow.address
    # A flow in ``password`` always names its user and address; never trust otherwise.
    if user_id is None or address is None:
        raise FlowStateError()
    if not password:
        raise InvalidInput({"password": [msg("form.required")]})
    payload = await _payload(services, user_id)
    others = tuple(v for v in payload.values() if isinstance(v, str) and v.lower() != flow.address)
    problems = pool.policy.validate(
        password, PasswordContext(identifier=flow.address, attributes=others)
    )
    if problems:
        raise InvalidInput({"password": list(problems)})
    await _check_history(services, pool, user_id, password)
    secret_hash = await services.hashing.hash(password)
    now = services.clock.now()
    async with services.db.write() as session:
        await _claim(session, flow, now)
        await _store(session, user_id, secret_hash, now)
        await remember(session, user_id, secret_hash, pool.policy.history, now)
        await emit.user_updated(
            session, pool, user_id, now, source="recovery", changes=["password"]
        )
        ended = await revoke_user_sessions(session, user_id, now)
        await audit.record_user_event(
            session,
            pool.tenant_id,
            pool.id,
            user_id,
            "user.password_reset",
            now,
            details={"via": "recovery", "sessions_ended": ended},
        )
        # A security notice to the address the code went to: a reset the owner did not
        # ask for (a taken-over mailbox, a stolen phone) is a reset they must hear of.
        await _notify_reset(services, session, pool, _readable(pool, address))
    services.notify_outbox()
    log.info("password reset by recovery code: user %s, %s sessions ended", user_id, ended)
    flow.state = "done"
    return flow


async def _payload(services: Services, user_id: str) -> dict[str, object]:
    async with services.db.read() as session:
        row = (
            await session.execute(select(User.payload, User.status).where(User.id == user_id))
        ).first()
    if row is None or row[1] != "active":
        # Deactivated or deleted since the code was sent: nothing to reset any more.
        raise FlowNotFound()
    return dict(row[0] or {})


async def _check_history(services: Services, pool: PoolView, user_id: str, password: str) -> None:
    keep = pool.policy.history
    if not keep:
        return
    async with services.db.read() as session:
        hashes = await recent_hashes(session, user_id, keep)
    if await reused(services.hashing, password, hashes):
        raise InvalidInput({"password": [msg("password.history", count=keep)]})


async def _claim(session: AsyncSession, flow: Flow, now: datetime) -> None:
    claimed = await session.execute(
        update(Flow)
        .where(Flow.id == flow.id, Flow.state == "password")
        .values(state="done", updated_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise FlowStateError("recovery.complete")


async def _store(session: AsyncSession, user_id: str, secret_hash: str, now: datetime) -> None:
    changed = await session.execute(
        update(Credential)
        .where(Credential.user_id == user_id)
        .values(secret_hash=secret_hash, updated_at=now)
    )
    if changed.rowcount == 0:  # type: ignore[attr-defined]
        session.add(
            Credential(
                id=secrets_.new_id(),
                user_id=user_id,
                kind="password",
                secret_hash=secret_hash,
                created_at=now,
                updated_at=now,
            )
        )
