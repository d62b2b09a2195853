"""An admin's invitation and set-password link, continued by the user in the widget.

::

    invitation:    code ─verify→ password ─set_password→ done    (no password yet)
                   code ─verify→ done                           (the admin set one)
                   code ↺ resend
    set_password:  password ─set_password→ done

The flows are created by ``users.invitations`` (admin side); this module only moves them
on. Invitation codes are checked like registration codes (keyed hash bound to the flow,
5 attempts counted atomically, 60 s resend cooldown, single use). A set-password link
proves itself with a token whose keyed hash is a ``Code`` row of purpose
``set_password``; it is checked on every request and used up with the password.

Nothing here knows about HTTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.auth import codes
from widget_server.errors import (
    CodeExpired,
    FlowNotFound,
    FlowStateError,
    InvalidInput,
    ResendTooSoon,
)
from widget_server.flows.base import FlowKind
from widget_server.messages import msg
from widget_server.models import Address, Code, Credential, Flow, User
from widget_server.passwords.history import recent_hashes, remember, reused
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.users.invitations import (
    ACTIVATION,
    INVITATION,
    SET_PASSWORD,
    issue_invitation_code,
)
from widget_server.webhooks import emit
from widget_server.webhooks.events import USER_ACTIVATED

#: Codes one invitation may have (the first and four resends); then the admin resends.
MAX_CODES = 5

Kind = Literal["invitation", "set_password"]
State = Literal["code", "password", "done"]
Action = Literal["verify", "resend", "set_password"]

TRANSITIONS: dict[tuple[State, Action], State] = {
    ("code", "verify"): "password",  # or straight to done: see ``verify_code``
    ("code", "resend"): "code",
    ("password", "set_password"): "done",
}
# Both kinds move through the one table (a set-password link is an invitation that
# starts at the password). Admins create them (``users.invitations``): never unsaved.
FLOWS: dict[Kind, FlowKind[State, Action]] = {
    INVITATION: FlowKind(
        INVITATION, start="code", transitions=TRANSITIONS, done_message="flow.completed"
    ),
    SET_PASSWORD: FlowKind(
        SET_PASSWORD, start="password", transitions=TRANSITIONS, done_message="flow.completed"
    ),
}
transition = FLOWS[INVITATION].transition


async def get(services: Services, pool: PoolView, kind: Kind, flow_id: str) -> Flow:
    return await FLOWS[kind].get(services, pool, flow_id)


async def load(services: Services, pool: PoolView, kind: Kind, flow_id: str, token: str) -> Flow:
    """A flow for a POST: the CSRF token (derived from the flow id) must match first."""
    return await FLOWS[kind].load(services, pool, flow_id, token)


async def check_link(services: Services, flow: Flow, token: str | None) -> None:
    """A set-password flow answers only to the token of its email; anything else looks
    like a link that does not exist."""
    if flow.kind != SET_PASSWORD or flow.state == "done":
        return
    async with services.db.read() as session:
        code = await codes.current(session, SET_PASSWORD, flow.id)
    key = services.settings.secret_key
    if (
        code is None
        or not token
        or len(token) > 128
        or code.expires_at <= services.clock.now()
        or not secrets_.matches(code.code_hash, key, SET_PASSWORD, flow.id, token)
    ):
        raise FlowNotFound()


# --- the code step ----------------------------------------------------------------------


async def verify_code(services: Services, pool: PoolView, flow: Flow, code: str) -> Flow:
    transition(flow.state, "verify")
    # isascii: str.isdigit() also accepts "١٢٣٤٥٦" and "²", which must not cost an attempt.
    if not (len(code) == secrets_.CODE_DIGITS and code.isascii() and code.isdigit()):
        raise InvalidInput({"code": [msg("code.format")]})
    # Decide inside the transaction, raise after it: a wrong guess must be committed.
    async with services.db.write() as session:
        outcome = await _check_code(services, session, pool, flow, code)
    if isinstance(outcome, Exception):
        raise outcome
    flow.state = outcome
    return flow


async def _check_code(
    services: Services, session: AsyncSession, pool: PoolView, flow: Flow, code: str
) -> Exception | State:
    found = await codes.check_in_flow(
        services, session, ACTIVATION, flow.id, code, done_message="flow.completed"
    )
    if isinstance(found, Exception):
        return found
    return await _accept(session, pool, flow, found, services.clock.now())


async def _accept(
    session: AsyncSession, pool: PoolView, flow: Flow, code: Code, now: datetime
) -> Exception | State:
    # The code is used already (``codes.check``, conditional: one request wins).
    has_password = await session.scalar(
        select(Credential.id).where(Credential.user_id == flow.user_id)
    )
    if has_password is None:
        # The address is verified together with the password, in one transaction: a user
        # is either still invited or active with both.
        await _move(session, flow, "password", now)
        return "password"
    if not await _activate(session, pool, flow, now):
        return CodeExpired()
    await _move(session, flow, "done", now)
    return "done"


async def resend_code(services: Services, pool: PoolView, flow: Flow) -> Flow:
    """A new code on the same invitation, at most ``MAX_CODES`` in all: whoever holds
    only the link (a forwarded page, not the mailbox) gets 5 guesses per code, so an
    unbounded resend would turn 72 hours into thousands of guesses."""
    transition(flow.state, "resend")
    now = services.clock.now()
    cooldown = timedelta(seconds=services.settings.code_resend_cooldown_seconds)
    outcome: Exception | None = None
    async with services.db.write() as session:
        current = await codes.current(session, ACTIVATION, flow.id)
        issued = await session.scalar(
            select(func.count()).select_from(Code).where(Code.flow_id == flow.id)
        )
        if (issued or 0) >= MAX_CODES:
            outcome = FlowStateError("invitation.too_many_codes")
        elif current is not None and not await codes.retire(session, current, now - cooldown, now):
            wait = int((current.sent_at + cooldown - now).total_seconds()) + 1
            outcome = ResendTooSoon(max(wait, 1))
        elif flow.user_id is not None:
            await issue_invitation_code(
                services, session, pool, flow.id, flow.user_id, flow.address or "", flow.expires_at
            )
    if outcome is not None:
        raise outcome
    services.notify_outbox()
    return flow


# --- the password step -------------------------------------------------------------------


async def set_password(
    services: Services, pool: PoolView, flow: Flow, password: str, token: str | None = None
) -> Flow:
    """Check ``password`` against the pool's policy, then in one transaction: the flow is
    done, the credential set, and an invited user active with a verified address."""
    transition(flow.state, "set_password")
    await check_link(services, flow, token)
    user_id = flow.user_id
    if user_id is None:  # every invitation and link names its user; never trust otherwise
        raise FlowNotFound()
    payload = await _payload(services, flow)
    if not password:
        raise InvalidInput({"password": [msg("form.required")]})
    others = tuple(v for v in payload.values() if isinstance(v, str) and v.lower() != flow.address)
    context = PasswordContext(identifier=flow.address, attributes=others)
    problems = pool.policy.validate(password, context)
    if problems:
        raise InvalidInput({"password": list(problems)})
    await _check_history(services, pool, flow, password)
    secret_hash = await services.hashing.hash(password)
    # Errors are raised inside the transaction: nothing of a refused step is kept.
    async with services.db.write() as session:
        await _store_password(services, session, pool, flow, secret_hash)
        # The history holds the current password too (passwords/history.py).
        await remember(session, user_id, secret_hash, pool.policy.history, services.clock.now())
    flow.state = "done"
    return flow


async def _check_history(services: Services, pool: PoolView, flow: Flow, password: str) -> None:
    """A link may set the password of a user who had one (no reuse of the last N)."""
    keep = pool.policy.history
    if not keep or flow.user_id is None:
        return
    async with services.db.read() as session:
        hashes = await recent_hashes(session, flow.user_id, keep)
    if await reused(services.hashing, password, hashes):
        raise InvalidInput({"password": [msg("password.history", count=keep)]})


async def _payload(services: Services, flow: Flow) -> dict[str, object]:
    async with services.db.read() as session:
        payload = await session.scalar(select(User.payload).where(User.id == flow.user_id))
    if payload is None:
        raise FlowNotFound()
    return dict(payload)


async def _store_password(
    services: Services, session: AsyncSession, pool: PoolView, flow: Flow, secret_hash: str
) -> None:
    now = services.clock.now()
    claimed = await session.execute(
        update(Flow)
        .where(Flow.id == flow.id, Flow.state == "password")
        .values(state="done", updated_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise FlowStateError("flow.completed")
    if flow.kind == SET_PASSWORD:
        await session.execute(
            update(Code)
            .where(Code.flow_id == flow.id, Code.purpose == SET_PASSWORD, Code.used_at.is_(None))
            .values(used_at=now)
        )
    elif not await _activate(session, pool, flow, now):
        raise CodeExpired()
    existing = await session.scalar(select(Credential.id).where(Credential.user_id == flow.user_id))
    if existing is not None:
        await session.execute(
            update(Credential)
            .where(Credential.id == existing)
            .values(secret_hash=secret_hash, updated_at=now)
        )
    else:
        session.add(
            Credential(
                id=secrets_.new_id(),
                user_id=flow.user_id,
                kind="password",
                secret_hash=secret_hash,
                created_at=now,
                updated_at=now,
            )
        )
    if flow.kind == SET_PASSWORD and flow.user_id is not None:
        # An invitation's password comes with the activation (``user.activated``); a
        # set-password link changes an existing account.
        await emit.user_updated(
            session, pool, flow.user_id, now, source="invitation", changes=["password"]
        )


# --- shared -------------------------------------------------------------------------------


async def _activate(session: AsyncSession, pool: PoolView, flow: Flow, now: datetime) -> bool:
    """new → active with a verified address; False if the user is no longer waiting
    (deleted, or changed by an admin meanwhile)."""
    activated = await session.execute(
        update(User)
        .where(User.id == flow.user_id, User.status == "new")
        .values(status="active", activated_at=now, updated_at=now)
    )
    if activated.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(Address)
        .where(Address.user_id == flow.user_id, Address.value == flow.address)
        .values(status="verified", verified_at=now)
    )
    assert flow.user_id is not None  # the update above found the user
    await emit.user_event(session, pool, USER_ACTIVATED, flow.user_id, now, source="invitation")
    await audit.record_user_event(
        session,
        pool.tenant_id,
        pool.id,
        flow.user_id,
        "user.activated",
        now,
        details={"via": "invitation"},
    )
    return True


async def _move(session: AsyncSession, flow: Flow, state: State, now: datetime) -> None:
    await session.execute(
        update(Flow).where(Flow.id == flow.id).values(state=state, updated_at=now)
    )
