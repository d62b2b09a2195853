"""Sign-in for people: email + password, a session cookie, and a brake on guessing.

A session token is 192 random bits; only its keyed hash is stored (the row's primary
key), so a copy of the table cannot be replayed as cookies. A session ends at the
earliest of: ``admin_session_hours`` after sign-in (absolute), ``admin_session_idle_minutes``
after the last request (idle: ``expires_at`` slides forward on use), sign-out, or the
principal's revocation.

The CSRF token of a session is derived from it (an HMAC of the token hash), so there is
nothing more to store and it changes with every sign-in.

Sign-ins are counted per email and per client IP by the login throttle
(``auth/throttle.py``, configured by ``PORTAL_LIMITS``): in Redis, shared by every server
process, when ``redis_url`` is set.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import delete, select, update

from widget_server import secrets_
from widget_server.admin.access import Actor, Principal, load_principal, principal_of
from widget_server.admin.audit import record
from widget_server.auth.throttle import LoginLimits, LoginThrottle
from widget_server.canonical import IdentifierRefused, canonical_email
from widget_server.errors import NotAuthenticated, TooManyAttempts
from widget_server.models import AdminPrincipal, AdminSession
from widget_server.services import Services

log = logging.getLogger(__name__)

#: Longest email and password the sign-in form reads; longer input fails like a wrong one.
MAX_EMAIL = 320
MAX_PASSWORD = 1024
#: ``expires_at`` is pushed forward at most once a minute per session (one write, not one
#: per request).
_SLIDE_STEP = timedelta(seconds=60)


class PortalSession(msgspec.Struct, frozen=True, kw_only=True):
    principal: Principal
    email: str
    token_hash: str
    csrf_token: str
    expires_at: datetime


def normalise_email(email: str) -> str:
    """The address as ``principals`` stored it (``canonical.canonical_email``); text it
    refuses can name no administrator and is kept as typed, to fail like an unknown one."""
    try:
        return canonical_email(email[: MAX_EMAIL + 1])
    except IdentifierRefused:
        return email.strip().lower()


#: The portal's sign-in counters on the login throttle (``auth/throttle.py``), under keys
#: of their own (``pa:``, ``pi:``). Per email from any IP: the portal's people are few and
#: worth much, so guesses spread over many addresses still meet one brake; the wait is
#: capped (15 minutes), so no one can lock a person out for good. Fewer failures per IP
#: than end users get: a whole office signs in to the widget, a few people to the portal.
PORTAL_LIMITS = LoginLimits(prefix="p", per_identifier=5, per_ip=30, identifier_per_ip=False)
#: The realm of the portal's emails for the throttle: one for every tenant.
PORTAL_REALM = ""


async def authenticate_person(
    services: Services,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    throttle: LoginThrottle | None = None,
) -> Principal:
    """The person with this email and password, or ``NotAuthenticated`` (one answer for
    unknown email, wrong password and revoked access; the portal words it
    ``admin.login_failed``)."""
    email = normalise_email(email)[: MAX_EMAIL + 1]
    if throttle is not None:
        # Counted before the hash; unknown emails count exactly like known ones, so the
        # throttle does not reveal which administrators exist.
        wait = await throttle.attempt(PORTAL_REALM, email, ip)
        if wait:
            raise TooManyAttempts(retry_after=wait)
    row = await _person(services, email) if len(email) <= MAX_EMAIL else None
    ok = False
    if row is None or len(password) > MAX_PASSWORD:
        # Hash anyway, so an unknown email answers as slowly as a wrong password.
        await services.hashing.verify_dummy(password[:MAX_PASSWORD])
    else:
        ok, rehash = await services.hashing.verify(row.secret_hash, password)
        if ok and rehash:
            await _rehash(services, row.id, password)
    if row is None or not ok or row.revoked_at is not None:
        await _audit_login(services, row, ip, ok=False)
        raise NotAuthenticated()
    if throttle is not None:
        await throttle.succeeded(PORTAL_REALM, email, ip)
    await _audit_login(services, row, ip, ok=True)
    async with services.db.read() as session:
        return await load_principal(session, row)


async def _person(services: Services, email: str) -> AdminPrincipal | None:
    """The person with this email; a live one wins over a revoked one of another tenant."""
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(AdminPrincipal).where(
                    AdminPrincipal.kind == "person", AdminPrincipal.email == email
                )
            )
        ).scalars()
        found = sorted(rows, key=lambda r: (r.revoked_at is not None, r.created_at))
    return found[0] if found else None


async def _rehash(services: Services, principal_id: str, password: str) -> None:
    # The hasher's parameters changed since this hash was made: store one with today's.
    fresh = await services.hashing.hash(password)
    async with services.db.write() as session:
        await session.execute(
            update(AdminPrincipal)
            .where(AdminPrincipal.id == principal_id)
            .values(secret_hash=fresh)
        )


async def _audit_login(
    services: Services, row: AdminPrincipal | None, ip: str | None, *, ok: bool
) -> None:
    if row is None:
        # No tenant to file it under (the email names nobody); the log still sees it.
        log.info("admin.login failed for an unknown email from %s", ip or "?")
        return
    actor = Actor(principal=principal_of(row), ip=ip)
    async with services.db.write() as session:
        await record(
            session,
            actor,
            "admin.login",
            target_type="admin",
            target_id=row.id,
            pool_id=row.pool_id,
            now=services.clock.now(),
            outcome="ok" if ok else "failed",
        )
        if ok:
            await session.execute(
                update(AdminPrincipal)
                .where(AdminPrincipal.id == row.id)
                .values(last_used_at=services.clock.now())
            )


def _token_hash(services: Services, token: str) -> str:
    return secrets_.keyed_hash(services.settings.secret_key, "admin-session", token)


def _csrf_for(services: Services, token_hash: str) -> str:
    return secrets_.keyed_hash(services.settings.secret_key, "admin-csrf", token_hash)


def _limits(services: Services) -> tuple[timedelta, timedelta]:
    settings = services.settings
    return (
        timedelta(hours=settings.admin_session_hours),
        timedelta(minutes=settings.admin_session_idle_minutes),
    )


async def start_session(services: Services, principal: Principal) -> str:
    """A new session for ``principal``; returns the token for the cookie (never stored)."""
    token = secrets_.new_token()
    now = services.clock.now()
    absolute, idle = _limits(services)
    async with services.db.write() as session:
        # A sign-in is a good moment to drop this person's dead sessions.
        await session.execute(
            delete(AdminSession).where(
                AdminSession.principal_id == principal.id, AdminSession.expires_at <= now
            )
        )
        session.add(
            AdminSession(
                token_hash=_token_hash(services, token),
                principal_id=principal.id,
                created_at=now,
                expires_at=now + min(idle, absolute),
            )
        )
    return token


async def principal_for_session(services: Services, token: str | None) -> PortalSession:
    """The live session of ``token``; ``NotAuthenticated`` if it is unknown, expired or its
    person was revoked."""
    if not token or len(token) > 128:
        raise NotAuthenticated()
    token_hash = _token_hash(services, token)
    now = services.clock.now()
    async with services.db.read() as session:
        found = (
            await session.execute(
                select(AdminSession, AdminPrincipal)
                .join(AdminPrincipal, AdminPrincipal.id == AdminSession.principal_id)
                .where(AdminSession.token_hash == token_hash)
            )
        ).first()
        if found is None:
            raise NotAuthenticated()
        row, person = found
        if row.expires_at <= now or person.revoked_at is not None or person.kind != "person":
            raise NotAuthenticated()
        principal = await load_principal(session, person)
    expires_at = await _slide(services, row, now)
    return PortalSession(
        principal=principal,
        email=person.email or "",
        token_hash=token_hash,
        csrf_token=_csrf_for(services, token_hash),
        expires_at=expires_at,
    )


async def _slide(services: Services, row: AdminSession, now: datetime) -> datetime:
    absolute, idle = _limits(services)
    wanted = min(now + idle, row.created_at + absolute)
    if wanted - row.expires_at < _SLIDE_STEP:
        return row.expires_at
    async with services.db.write() as session:
        await session.execute(
            update(AdminSession)
            .where(AdminSession.token_hash == row.token_hash)
            .values(expires_at=wanted)
        )
    return wanted


async def end_session(services: Services, token: str | None) -> None:
    if not token or len(token) > 128:
        return
    async with services.db.write() as session:
        await session.execute(
            delete(AdminSession).where(AdminSession.token_hash == _token_hash(services, token))
        )


def csrf_matches(portal: PortalSession, submitted: str | None) -> bool:
    # Constant time: the comparison must not tell an attacker how much of a guess was right.
    return submitted is not None and secrets_.hmac_equal(portal.csrf_token, submitted)
