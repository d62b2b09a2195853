"""Changing the password from the account portal.

The current password is required (verified in the hashing pool, counted by the login
throttle under the user, so a borrowed session cannot be used to guess it), the new one
must pass the pool's policy and must not be one of the last N (``passwords.history``).
The change, its history entry, the end of every session and a notice to the sign-in
email happen in one transaction; the browser that made the change gets a new session
(new id, new token, same ``amr``), so nothing that knew the old session id, CSRF tokens
included, survives.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from widget_server.auth.sessions import SessionView, revoke_user_sessions, start_session
from widget_server.auth.throttle import LoginThrottle
from widget_server.errors import InvalidInput, LoginThrottled
from widget_server.flows.mfa_entry import contact_of
from widget_server.forms import identifier_field
from widget_server.mail.outbox import enqueue_email
from widget_server.messages import Msg, msg
from widget_server.models import Credential, User
from widget_server.passwords.history import recent_hashes, remember, reused
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

CURRENT, NEW = "current_password", "new_password"


async def change_password(
    services: Services,
    pool: PoolView,
    live: SessionView,
    current: str,
    new: str,
    *,
    throttle: LoginThrottle,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, str]:
    """Returns the new session's ``(token, session_id)``; ``InvalidInput`` by field."""
    user_id = live.user_id
    stored, payload = await _credential(services, user_id)
    errors: dict[str, list[Msg]] = {}
    if not current:
        errors[CURRENT] = [msg("form.required")]
    problems = _policy_problems(pool, payload, new)
    if problems:
        errors[NEW] = problems
    if current and not await _verify_current(services, pool, live, stored, current, throttle, ip):
        errors[CURRENT] = [msg("account.password_incorrect")]
    if errors:
        raise InvalidInput(errors)
    keep = pool.policy.history
    if keep:
        async with services.db.read() as session:
            hashes = await recent_hashes(session, user_id, keep)
        if await reused(services.hashing, new, hashes):
            raise InvalidInput({NEW: [msg("password.history", count=keep)]})
    fresh = await services.hashing.hash(new)
    now = services.clock.now()
    contact = await contact_of(services, user_id)
    async with services.db.write() as session:
        changed = await session.execute(
            update(Credential)
            .where(Credential.user_id == user_id, Credential.secret_hash == stored)
            .values(secret_hash=fresh, updated_at=now)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            # Changed meanwhile (another tab, a reset): what was typed is not current any more.
            raise InvalidInput({CURRENT: [msg("account.password_incorrect")]})
        await remember(session, user_id, fresh, keep, now)
        await emit.user_updated(session, pool, user_id, now, source="account", changes=["password"])
        ended = await revoke_user_sessions(session, user_id, now)
        token, session_id = await start_session(
            services,
            session,
            user_id=user_id,
            pool=pool,
            app_id=live.app_id,
            amr=list(live.amr),
            ip=ip,
            user_agent=user_agent,
        )
        if contact is not None and contact[0] == "email":
            notice = services.composer.password_changed(contact[1], pool)
            await enqueue_email(
                session, services.clock, notice, services.settings.mail_per_address_per_hour
            )
    services.notify_outbox()
    log.info("account: user %s changed their password; %d sessions ended", user_id, ended)
    return token, session_id


async def _credential(services: Services, user_id: str) -> tuple[str | None, dict[str, object]]:
    async with services.db.read() as session:
        row = (
            await session.execute(
                select(Credential.secret_hash, User.payload)
                .select_from(User)
                .outerjoin(Credential, Credential.user_id == User.id)
                .where(User.id == user_id)
            )
        ).first()
    if row is None:
        return None, {}
    return row[0], dict(row[1] or {})


def _policy_problems(pool: PoolView, payload: dict[str, object], new: str) -> list[Msg]:
    if not new:
        return [msg("form.required")]
    identifier = str(payload.get(identifier_field(pool.schema)) or "") or None
    others = tuple(v for v in payload.values() if isinstance(v, str) and v != identifier)
    return list(
        pool.policy.validate(new, PasswordContext(identifier=identifier, attributes=others))
    )


async def _verify_current(
    services: Services,
    pool: PoolView,
    live: SessionView,
    stored: str | None,
    current: str,
    throttle: LoginThrottle,
    ip: str | None,
) -> bool:
    key = f"account:{live.user_id}"
    wait = await throttle.attempt(pool.id, key, ip)
    if wait:
        raise LoginThrottled(wait)
    if stored is None:
        await services.hashing.verify_dummy(current)
        return False
    ok, _ = await services.hashing.verify(stored, current)
    if ok:
        await throttle.succeeded(pool.id, key, ip)
    else:
        log.warning("account: wrong current password for user %s", live.user_id)
    return bool(ok)
