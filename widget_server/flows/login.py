"""Login inside the embedded widget. Nothing here knows about HTTP.

::

    form ─login→ done            a new session (and, for an app, a one-time code)
      │  ↺ login_failed          one answer for unknown, wrong and not-active
      └─login→ mfa ─verify→ done the pool requires a second factor, or the user has one;
                                 the MFA step (a later issue) continues from ``mfa``

Unsaved flows, like registration: opening the form writes nothing; the flow travels as
a signed ticket (pool, parent origin, app, issue time) until a successful login inserts
it as ``done`` (or ``mfa``), in the transaction that starts the session. A second POST
of the same ticket then finds the row taken and is refused as a replay. A saved flow in
``form`` comes from the OIDC authorization endpoint (``Flow.oauth`` holds the request and
``continue``, the same-origin path the browser goes to after the login).

Constant work: throttling is counted before the hash; an unknown identifier, a user
without a password, a wrong password and a user who may not log in all cost one argon2
verify and end in the same ``LoginFailed``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any, Literal, NoReturn

import msgspec
from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from widget_server.auth.identifiers import read_identifier
from widget_server.auth.redirects import safe_local_path
from widget_server.auth.sessions import SessionView, add_session, insert_session, new_session
from widget_server.auth.throttle import LoginThrottle
from widget_server.errors import (
    FlowStateError,
    InvalidInput,
    LoginFailed,
    LoginThrottled,
    UnknownApp,
)
from widget_server.fastsql import Prepared
from widget_server.flows import mfa_entry
from widget_server.flows.base import FlowKind, is_saved
from widget_server.flows.tickets import TicketFormat
from widget_server.messages import Msg, msg
from widget_server.models import Address, App, Credential, Flow, MfaFactor, User
from widget_server.oidc.codes import issue_code
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.upsert import PreparedInsertIgnoring, insert_ignoring_conflict
from widget_server.users.lifecycle import can_log_in
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

#: How a password login proves who the user is (OIDC ``amr``).
PASSWORD_AMR = ["pwd"]

State = Literal["form", "mfa", "done"]
Action = Literal["login", "login_mfa", "verify_mfa"]

FLOW: FlowKind[State, Action] = FlowKind(
    "login",
    start="form",
    transitions={
        ("form", "login"): "done",
        ("form", "login_mfa"): "mfa",
        ("mfa", "verify_mfa"): "done",
    },
    done_message="login.done",
    ticket=TicketFormat("login-ticket", ("pool", "origin", "app", "issued")),
    # A flow waiting for its second factor is checked by flows/mfa.py, which first says
    # whether it is finished, then whether it expired.
    expires_in=frozenset({"form"}),
)
transition = FLOW.transition


class LoginApp(msgspec.Struct, frozen=True, kw_only=True):
    """The partner app an embedded login signs in to: where its code may go."""

    id: str
    allowed_origins: tuple[str, ...]


class LoginResult(msgspec.Struct, frozen=True, kw_only=True):
    flow: Any  # Flow; msgspec cannot type ORM objects
    #: The new session's cookie value and id; None while a second factor is pending.
    token: str | None
    session_id: str | None
    #: The one-time authorization code for an embedding app, posted to its origin.
    code: str | None
    #: Where the browser goes next (the authorization endpoint), if anywhere.
    continue_path: str | None


# --- apps -------------------------------------------------------------------------------


async def app_for(services: Services, pool: PoolView, client_id: str | None) -> LoginApp | None:
    """The app of ``client_id`` if it may use this pool; None without one."""
    if not client_id:
        return None
    if len(client_id) > 64:
        raise UnknownApp()
    async with services.db.read() as session:
        app = await session.get(App, client_id)
    if (
        app is None
        or app.revoked_at is not None
        or app.tenant_id != pool.tenant_id
        or pool.id not in (app.pool_ids or ())
    ):
        raise UnknownApp()
    return LoginApp(id=app.id, allowed_origins=tuple(app.allowed_origins or ()))


def allowed_origin(pool: PoolView, app: LoginApp | None, origin: str | None) -> str | None:
    """The parent origin a page may talk to: exactly one of the app's origins for an app
    (its code must reach nobody else), else one of the pool's."""
    if origin is None:
        return None
    allowed = app.allowed_origins if app is not None else pool.allowed_origins
    return origin if origin in allowed else None


# --- the flow -----------------------------------------------------------------------------


def start(services: Services, pool: PoolView, origin: str | None, app: LoginApp | None) -> Flow:
    """A new, unsaved flow (``FlowKind.new``): a successful login inserts it."""
    app_id = app.id if app is not None else None
    return FLOW.new(services, pool, allowed_origin(pool, app, origin), app_id)


async def get(services: Services, pool: PoolView, flow_id: str) -> Flow:
    return await FLOW.get(services, pool, flow_id)


async def load(
    services: Services, pool: PoolView, flow_id: str, token: str, ticket: str | None
) -> Flow:
    """A flow for a POST: the CSRF token first, then the ticket or the saved row."""
    return await FLOW.load(services, pool, flow_id, token, ticket)


# --- logging in ---------------------------------------------------------------------------


class _Account(msgspec.Struct, frozen=True):
    user_id: str
    status: str
    secret_hash: str | None


async def log_in(
    services: Services,
    pool: PoolView,
    flow: Flow,
    identifier: str,
    password: str,
    *,
    throttle: LoginThrottle,
    ip: str | None,
    user_agent: str | None,
) -> LoginResult:
    transition(flow.state, "login")
    _require(identifier, password)
    typed = read_identifier(pool, identifier)
    # Unreadable input is counted under what was typed: it is an unknown account.
    key = typed.value if typed is not None else identifier.strip().lower()[:320]
    wait = await throttle.attempt(pool.id, key, ip)
    if wait:
        services.telemetry.metrics.login(pool.id, "throttled")
        raise LoginThrottled(wait)
    account = await _account(services, pool, typed.kind, typed.value) if typed else None
    if account is None or account.secret_hash is None:
        await services.hashing.verify_dummy(password)
        await _failed(services, pool, flow, account)
    ok, rehash = await services.hashing.verify(account.secret_hash, password)
    if not ok or not can_log_in(account.status):
        if ok:
            log.info("login refused: user %s is %s", account.user_id, account.status)
        await _failed(services, pool, flow, account)
    await throttle.succeeded(pool.id, key, ip)
    services.telemetry.metrics.login(pool.id, "ok")
    if rehash:
        await _rehash(services, account, password)
    return await _finish(
        services, pool, flow, account.user_id, identifier=key, ip=ip, user_agent=user_agent
    )


async def _failed(
    services: Services, pool: PoolView, flow: Flow, account: _Account | None
) -> NoReturn:
    """``LoginFailed``, reported to the pool's webhooks (``login.failed``) first: with the
    user's id when the identifier is one of theirs, with nothing for an unknown one."""
    user_id = account.user_id if account is not None else None
    services.telemetry.metrics.login(pool.id, "failed")
    await emit.login_failed(services, pool, flow.app_id, user_id)
    raise LoginFailed()


def _require(identifier: str, password: str) -> None:
    errors: dict[str, list[Msg]] = {}
    if not identifier.strip():
        errors["identifier"] = [msg("form.required")]
    if not password:
        errors["password"] = [msg("form.required")]
    if errors:
        raise InvalidInput(errors)


# Built once with bound parameters: SQLAlchemy then finds the compiled form in its cache
# by identity instead of building and hashing a new statement on every login.
_ACCOUNT = Prepared(
    select(User.id, User.status, Credential.secret_hash)
    .join(Address, Address.user_id == User.id)
    .outerjoin(Credential, Credential.user_id == User.id)
    .where(
        Address.pool_id == bindparam("pool"),
        Address.kind == bindparam("kind"),
        Address.value == bindparam("value"),
        Address.status == "verified",
    )
)


async def _account(services: Services, pool: PoolView, kind: str, value: str) -> _Account | None:
    """The user a verified address names, with their password hash (if any)."""
    params = {"pool": pool.id, "kind": kind, "value": value}
    row = await services.db.run_read(partial(_ACCOUNT.first, params=params))
    return _Account(row[0], row[1], row[2]) if row is not None else None


async def _rehash(services: Services, account: _Account, password: str) -> None:
    # The hasher's parameters changed since this hash was made: store one with today's.
    # Conditional on the old hash, so a password changed meanwhile is not overwritten.
    fresh = await services.hashing.hash(password)
    async with services.db.write() as session:
        await session.execute(
            update(Credential)
            .where(
                Credential.user_id == account.user_id, Credential.secret_hash == account.secret_hash
            )
            .values(secret_hash=fresh, updated_at=services.clock.now())
        )


async def _needs_mfa(services: Services, pool: PoolView, user_id: str) -> bool:
    if pool.mfa == "required":
        return True
    if pool.mfa == "off":
        return False
    async with services.db.read() as session:
        enrolled = await session.scalar(
            select(MfaFactor.id)
            .where(MfaFactor.user_id == user_id, MfaFactor.confirmed_at.is_not(None))
            .limit(1)
        )
    return enrolled is not None


async def _finish(
    services: Services,
    pool: PoolView,
    flow: Flow,
    user_id: str,
    *,
    identifier: str,
    ip: str | None,
    user_agent: str | None,
) -> LoginResult:
    now = services.clock.now()
    mfa = await _needs_mfa(services, pool, user_id)
    target = transition(flow.state, "login_mfa" if mfa else "login")
    token = session_id = code = None
    # The address signed in with, for "Signed in as ..." on the done card.
    data: dict[str, Any] = {
        "amr": PASSWORD_AMR,
        "auth_time": now.isoformat(),
        "identifier": identifier,
    }
    if mfa:
        # What the MFA step offers (flows/mfa_entry.py); flows/mfa.py completes it.
        data["mfa"] = await mfa_entry.options(services, user_id)
    row: dict[str, Any] | None = None
    if not mfa:
        token, row = new_session(
            services,
            user_id=user_id,
            pool=pool,
            app_id=flow.app_id,
            amr=PASSWORD_AMR,
            ip=ip,
            user_agent=user_agent,
        )
        session_id = data["session_id"] = row["id"]
    if row is not None and not embedded_for_app(flow):
        # The common login, no MFA and no code to issue: the session and the flow in one
        # transaction on a plain connection (one thread hop on SQLite, no ORM session).
        changes = {"state": target, "user_id": user_id, "data": data, "updated_at": now}
        saved = is_saved(flow)
        new_flow = None if saved else _flow_values(flow) | changes
        event = emit.login_succeeded_row(pool, user_id, flow.app_id, PASSWORD_AMR, now)
        await services.db.run_write(
            partial(
                _session_and_flow,
                session=row,
                flow_id=flow.id,
                changes=changes,
                new_flow=new_flow,
                event=event,
            )
        )
        if not saved:
            make_transient_to_detached(flow)
    else:
        async with services.db.write() as session:
            if row is not None:
                await add_session(session, row)
                await emit.login_succeeded(session, pool, user_id, flow.app_id, PASSWORD_AMR, now)
            await _save(services, session, flow, target, user_id, data)
            if mfa:
                # Without an authenticator app, a code by email goes out with the flow.
                await mfa_entry.on_enter(services, session, pool, flow.id, user_id, data["mfa"])
            if session_id is not None and embedded_for_app(flow):
                code = await _issue(services, session, flow, user_id, session_id, now)
    flow.state, flow.user_id, flow.data = target, user_id, data
    return LoginResult(
        flow=flow,
        token=token,
        session_id=session_id,
        code=code,
        continue_path=continue_path(flow) if not mfa else None,
    )


async def _save(
    services: Services,
    session: AsyncSession,
    flow: Flow,
    target: str,
    user_id: str,
    data: dict[str, Any],
) -> None:
    now = services.clock.now()
    changes = {"state": target, "user_id": user_id, "data": data, "updated_at": now}
    if not is_saved(flow):
        row = _flow_values(flow) | changes
        if not await insert_ignoring_conflict(session, Flow, row, conflict_columns=("id",)):
            raise FlowStateError("login.done")
        make_transient_to_detached(flow)
        return
    claimed = await session.execute(
        update(Flow).where(Flow.id == flow.id, Flow.state == "form").values(**changes)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise FlowStateError("login.done")


_FLOWS: Table = Flow.__table__  # type: ignore[assignment]
_INSERT_FLOW = PreparedInsertIgnoring(_FLOWS, "id")
# Only a flow still showing its form can finish a login (a replayed POST finds none).
_CLAIM_FLOW = Prepared(
    update(_FLOWS).where(_FLOWS.c.id == bindparam("b_id"), _FLOWS.c.state == "form")
)


def _flow_values(flow: Flow) -> dict[str, Any]:
    """The row of an unsaved flow, by column name."""
    return {c.name: getattr(flow, c.key) for c in _FLOWS.columns}


def _session_and_flow(
    connection: Connection,
    *,
    session: dict[str, Any],
    flow_id: str,
    changes: dict[str, Any],
    new_flow: dict[str, Any] | None,
    event: dict[str, Any] | None,
) -> None:
    insert_session(connection, session)
    if new_flow is not None:
        if not _INSERT_FLOW.inserted(connection, new_flow):
            raise FlowStateError("login.done")
    elif _CLAIM_FLOW.rowcount(connection, changes | {"b_id": flow_id}) != 1:
        raise FlowStateError("login.done")
    emit.insert_row(connection, event)


def embedded_for_app(flow: Flow) -> bool:
    """An embedded login for a partner app: its page gets a code by postMessage."""
    return flow.app_id is not None and not flow.oauth and flow.parent_origin is not None


async def _issue(
    services: Services,
    session: AsyncSession,
    flow: Flow,
    user_id: str,
    session_id: str,
    auth_time: datetime,
) -> str:
    assert flow.app_id is not None
    return await issue_code(
        services,
        session,
        app_id=flow.app_id,
        user_id=user_id,
        pool_id=flow.pool_id,
        session_id=session_id,
        redirect_uri=None,
        scope="openid",
        nonce=None,
        code_challenge=None,
        code_challenge_method=None,
        # A login that passed the MFA step says so (flows/mfa.py stores its amr).
        amr=list(flow.data.get("amr") or PASSWORD_AMR),
        auth_time=auth_time,
    )


async def code_for_session(
    services: Services, flow: Flow, session_id: str, auth_time: datetime
) -> str | None:
    """A fresh code for the done page of an embedded app login, shown again (a reload, or
    the page after a plain form post): only for the session the login made."""
    if flow.state != "done" or not embedded_for_app(flow) or flow.user_id is None:
        return None
    if flow.data.get("session_id") != session_id:
        return None
    async with services.db.write() as session:
        return await _issue(services, session, flow, flow.user_id, session_id, auth_time)


def signed_in(flow: Flow, live: SessionView, identifier: str | None) -> Flow:
    """The unsaved flow of a visitor who already has a live session: shown as done (the
    page says who is signed in and offers to sign out), with nothing written."""
    flow.state, flow.user_id = "done", live.user_id
    flow.data = {"session_id": live.id, "amr": list(live.amr), "identifier": identifier}
    return flow


_SIGN_IN_ADDRESS = Prepared(
    select(Address.value)
    .where(Address.user_id == bindparam("user"), Address.status == "verified")
    .order_by(Address.kind, Address.created_at)
    .limit(1)
)


async def sign_in_address(services: Services, user_id: str) -> str | None:
    """The address a signed-in user is shown as: their first verified email (emails sort
    before phones), else their first phone number."""
    row = await services.db.run_read(partial(_SIGN_IN_ADDRESS.first, params={"user": user_id}))
    return str(row[0]) if row is not None else None


async def code_for_live_session(services: Services, flow: Flow, live: SessionView) -> str | None:
    """An embedding app's page opened while the user is signed in (``signed_in``) gets a
    code for that session (a silent sign-in): only to the app's own origin, as after a
    login."""
    if not embedded_for_app(flow):
        return None
    async with services.db.write() as session:
        return await _issue(services, session, flow, live.user_id, live.id, live.created_at)


def continue_path(flow: Flow) -> str | None:
    """Where an OIDC authorization request continues after the login, if it is a path on
    this server; anything else is refused (logged) rather than followed."""
    wanted = (flow.oauth or {}).get("continue")
    if wanted is None:
        return None
    safe = safe_local_path(wanted)
    if safe is None:
        log.warning("login flow %s: refused a continue address that is not a local path", flow.id)
    return safe
