"""The second step of a login (state ``mfa`` of ``flows/login.py``). Nothing here knows
about HTTP.

::

    form ─login_mfa→ mfa ─totp code──→ done   session amr ["pwd", "totp"]
                      │  ─email code─→ done   session amr ["pwd", "otp"]
                      └─ send code ↺         (60 s apart; 5 tries per code)

The login flow is saved in ``mfa`` with the user and ``auth_time`` once the password was
right; no session exists yet. Only ``complete_mfa`` creates it, in the transaction that
moves the flow to ``done`` by a conditional UPDATE, so two right codes posted at once
still make one session. Codes by email belong to the flow (purpose ``mfa``), so a code
of another flow, user or purpose never completes this one.

``flows/mfa_entry.py`` decides, when the flow enters ``mfa``, what the page offers: the
authenticator app when the user has one, codes by email whenever the user has a verified
email address (sent at once to users without an app: the default second factor).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update

from widget_server.auth import codes, mfa
from widget_server.auth.sessions import start_session
from widget_server.errors import (
    FlowExpired,
    FlowStateError,
    MfaUnavailable,
)
from widget_server.flows import login, mfa_entry
from widget_server.models import Flow
from widget_server.oidc.codes import issue_code
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

PURPOSE = mfa_entry.PURPOSE
TOTP_AMR = ["pwd", "totp"]
EMAIL_AMR = ["pwd", "otp"]


async def load(services: Services, pool: PoolView, flow_id: str, token: str) -> Flow:
    """The login flow waiting for its second factor: CSRF first, then state and age."""
    flow = await login.FLOW.load(services, pool, flow_id, token)
    if flow.state != "mfa" or flow.user_id is None:
        raise FlowStateError("login.done" if flow.state == "done" else "flow.wrong_step")
    if flow.expires_at <= services.clock.now():
        raise FlowExpired()
    return flow


async def send_code(services: Services, pool: PoolView, flow: Flow) -> str:
    """Email a code for this flow (60 s apart); returns the masked address."""
    assert flow.user_id is not None
    async with services.db.write() as session:
        masked = await mfa_entry.send_code(services, session, pool, flow.id, flow.user_id)
        if masked is None:
            raise MfaUnavailable()
        flow.data = await mfa_entry.remember_sent(session, flow, masked, services.clock.now())
    services.notify_outbox()
    return masked


async def verify_totp(
    services: Services,
    pool: PoolView,
    flow: Flow,
    code: str,
    *,
    throttle: mfa.MfaThrottle,
    ip: str | None,
    user_agent: str | None,
) -> login.LoginResult:
    assert flow.user_id is not None
    await mfa.verify_totp(services, flow.user_id, code, throttle)
    return await complete_mfa(services, pool, flow, TOTP_AMR, ip=ip, user_agent=user_agent)


async def verify_email_code(
    services: Services,
    pool: PoolView,
    flow: Flow,
    code: str,
    *,
    throttle: mfa.MfaThrottle,
    ip: str | None,
    user_agent: str | None,
) -> login.LoginResult:
    assert flow.user_id is not None
    code = mfa.require_code_format(code)
    # Counted per user too: a new code every minute must not buy unlimited guesses.
    await throttle.attempt(flow.user_id)
    async with services.db.write() as session:
        outcome = await codes.check(services, session, PURPOSE, flow.id, code)
    if isinstance(outcome, Exception):
        raise outcome
    await throttle.succeeded(flow.user_id)
    return await complete_mfa(services, pool, flow, EMAIL_AMR, ip=ip, user_agent=user_agent)


async def complete_mfa(
    services: Services,
    pool: PoolView,
    flow: Flow,
    amr: list[str],
    *,
    ip: str | None,
    user_agent: str | None,
) -> login.LoginResult:
    """The second factor was right: ``mfa`` → ``done`` and a new session with ``amr``, in
    one transaction (and, for an app's embedded login, its one-time code)."""
    target = login.transition(flow.state, "verify_mfa")
    assert flow.user_id is not None
    auth_time = _auth_time(flow, services.clock.now())
    async with services.db.write() as session:
        token, session_id = await start_session(
            services,
            session,
            user_id=flow.user_id,
            pool=pool,
            app_id=flow.app_id,
            amr=amr,
            ip=ip,
            user_agent=user_agent,
        )
        data = dict(flow.data) | {"amr": amr, "session_id": session_id}
        claimed = await session.execute(
            update(Flow)
            .where(Flow.id == flow.id, Flow.state == "mfa")
            .values(state=target, data=data, updated_at=services.clock.now())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise FlowStateError("login.done")  # rolls the session back
        now = services.clock.now()
        await emit.login_succeeded(session, pool, flow.user_id, flow.app_id, amr, now)
        code = None
        if login.embedded_for_app(flow):
            assert flow.app_id is not None
            code = await issue_code(
                services,
                session,
                app_id=flow.app_id,
                user_id=flow.user_id,
                pool_id=flow.pool_id,
                session_id=session_id,
                redirect_uri=None,
                scope="openid",
                nonce=None,
                code_challenge=None,
                code_challenge_method=None,
                amr=list(amr),
                auth_time=auth_time,
            )
    flow.state, flow.data = target, data
    log.info("login: user %s completed a second factor (%s)", flow.user_id, amr[-1])
    return login.LoginResult(
        flow=flow,
        token=token,
        session_id=session_id,
        code=code,
        continue_path=login.continue_path(flow),
    )


def _auth_time(flow: Flow, now: datetime) -> datetime:
    raw = flow.data.get("auth_time")
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else now
    except ValueError:
        return now
