"""End-user sessions: the contract the login, the portal, MFA and the OIDC provider share.

A session token is 256 random bits from ``secrets``; only its keyed hash is stored
(``Session.token_hash``), so a copy of the table cannot be replayed as cookies. Every
login makes a new session with a new id and token: nothing an attacker planted before the
login (session fixation) survives it.

A session is live while all of these hold (``current_session`` checks each on every use):

- it belongs to the pool asking (a cookie of one pool never opens another);
- it is not revoked (logout, password change or reset, admin action);
- ``expires_at`` (login + the pool's ``session_lifetime_seconds``) is in the future;
- it was used within the pool's ``session_idle_seconds`` (``last_seen_at``, written at
  most once a minute per session, so a busy page costs no write per request);
- its user is still ``active`` (deactivated and deleted users are also revoked by
  ``admin.users``; this check holds even if a revocation was missed).

The cookie lives inside a cross-site iframe, where browsers only keep *partitioned*
third-party cookies: ``Secure; HttpOnly; SameSite=None; Partitioned; Path=/``, one per
pool (``ws_session_<pool_id>``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec
from litestar import Request
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.fastsql import Prepared
from widget_server.models import Pool, Session, User
from widget_server.pools import PoolView
from widget_server.services import Services

COOKIE_PREFIX = "ws_session_"
#: Tokens we hand out are 43 characters; anything much longer is not ours.
MAX_TOKEN = 128
#: ``last_seen_at`` moves at most this often: one write a minute per session, not per request.
TOUCH_EVERY = timedelta(seconds=60)


#: Built once: executed with a row of values, it is compiled once and cached by identity.
_INSERT = insert(Session)
_INSERT_PREPARED = Prepared(_INSERT)


class SessionView(msgspec.Struct, frozen=True, kw_only=True):
    """A live session as callers see it (never the token or its hash)."""

    id: str
    user_id: str
    pool_id: str
    app_id: str | None
    #: How the user proved who they are (OIDC ``amr``): ["pwd"], ["pwd", "otp"], ...
    amr: tuple[str, ...]
    #: When the user logged in (OIDC ``auth_time``).
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def token_hash(services: Services, token: str) -> str:
    return secrets_.keyed_hash(services.settings.secret_key, "session", token)


def new_session_token() -> str:
    # 32 bytes = 256 bits: comfortably above the 128 the design asks for.
    return secrets_.new_token(32)


async def start_session(
    services: Services,
    db_session: AsyncSession,
    *,
    user_id: str,
    pool: PoolView,
    app_id: str | None,
    amr: list[str],
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, str]:
    """A new session in the caller's transaction; returns ``(token, session_id)``.

    The token goes into the cookie and is never stored; the id is what other rows
    (authorization codes, the portal's session list) refer to.
    """
    token, row = new_session(
        services, user_id=user_id, pool=pool, app_id=app_id, amr=amr, ip=ip, user_agent=user_agent
    )
    await add_session(db_session, row)
    return token, row["id"]


async def add_session(db_session: AsyncSession, row: Mapping[str, Any]) -> None:
    """Store a ``new_session`` row in the caller's transaction."""
    await db_session.execute(_INSERT, row)


def new_session(
    services: Services,
    *,
    user_id: str,
    pool: PoolView,
    app_id: str | None,
    amr: list[str],
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, dict[str, Any]]:
    """``(token, row)`` of a new session, for ``add_session`` or ``insert_session``."""
    token, session_id = new_session_token(), secrets_.new_id()
    now = services.clock.now()
    row = {
        "id": session_id,
        "token_hash": token_hash(services, token),
        "user_id": user_id,
        "pool_id": pool.id,
        "app_id": app_id,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + timedelta(seconds=pool.session_lifetime_seconds),
        "revoked_at": None,
        # Columns are bounded; a client chooses its User-Agent, so cut rather than fail.
        "ip": (ip or None) and ip[:64],
        "user_agent": (user_agent or None) and user_agent[:255],
        "amr": list(amr),
    }
    return token, row


def insert_session(connection: Connection, row: Mapping[str, Any]) -> None:
    """Store a ``new_session`` row in the caller's transaction on a plain connection."""
    _INSERT_PREPARED.run(connection, row)


async def current_session(
    services: Services, token: str | None, pool_id: str
) -> SessionView | None:
    """The live session of ``token`` in ``pool_id``, or None (see the module docstring)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    async with services.db.read() as db_session:
        found = (
            await db_session.execute(
                select(Session, User.status, Pool.session_idle_seconds)
                .join(User, User.id == Session.user_id)
                .join(Pool, Pool.id == Session.pool_id)
                .where(Session.token_hash == token_hash(services, token))
            )
        ).first()
    if found is None:
        return None
    row, status, idle_seconds = found
    now = services.clock.now()
    if not _live(row, status, idle_seconds, pool_id, now):
        return None
    last_seen = await _touch(services, row, now)
    return SessionView(
        id=row.id,
        user_id=row.user_id,
        pool_id=row.pool_id,
        app_id=row.app_id,
        amr=tuple(row.amr or ()),
        created_at=row.created_at,
        last_seen_at=last_seen,
        expires_at=row.expires_at,
    )


def _live(row: Session, status: str, idle_seconds: int, pool_id: str, now: datetime) -> bool:
    return (
        row.pool_id == pool_id
        and row.revoked_at is None
        and row.expires_at > now
        and row.last_seen_at + timedelta(seconds=idle_seconds) > now
        and status == "active"
    )


async def _touch(services: Services, row: Session, now: datetime) -> datetime:
    if now - row.last_seen_at < TOUCH_EVERY:
        return row.last_seen_at
    async with services.db.write() as db_session:
        # Conditional on the value read: of parallel requests one writes, none goes back.
        await db_session.execute(
            update(Session)
            .where(Session.id == row.id, Session.last_seen_at == row.last_seen_at)
            .values(last_seen_at=now)
        )
    return now


async def end_session(services: Services, token: str | None) -> bool:
    """Revoke the session of ``token`` (logout); True if a live one was ended."""
    if not token or len(token) > MAX_TOKEN:
        return False
    async with services.db.write() as db_session:
        result = await db_session.execute(
            update(Session)
            .where(Session.token_hash == token_hash(services, token), Session.revoked_at.is_(None))
            .values(revoked_at=services.clock.now())
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def end_replaced_session(
    services: Services, request: Request[Any, Any, Any], pool_id: str, new_token: str | None
) -> bool:
    """End the session whose cookie a new login in this browser is about to overwrite.

    A login with ``prompt=login`` (or any login over a live session) sets a new cookie;
    the old session could never be used from this browser again, but stayed valid for
    anyone holding its token and for the tokens an app got from it. Ended here, the
    moment it is replaced; True if one was."""
    old = read_session_token(request, pool_id)
    if new_token is None or old is None or hmac.compare_digest(old, new_token):
        return False
    return await end_session(services, old)


async def revoke_user_sessions(
    db_session: AsyncSession, user_id: str, now: datetime, except_session_id: str | None = None
) -> int:
    """Revoke every live session of the user (optionally but one: a password change keeps
    the session it was made in); return how many. Runs in the caller's transaction."""
    conditions = [Session.user_id == user_id, Session.revoked_at.is_(None)]
    if except_session_id is not None:
        conditions.append(Session.id != except_session_id)
    result = await db_session.execute(update(Session).where(*conditions).values(revoked_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


# --- the cookie ---------------------------------------------------------------------------


def cookie_name(pool_id: str) -> str:
    return COOKIE_PREFIX + pool_id


def session_cookie(pool_id: str, token: str, max_age: int) -> str:
    """A ``Set-Cookie`` value for the session of ``pool_id``.

    Written by hand: Litestar's ``Cookie`` has no ``Partitioned`` attribute, and without
    it Chromium drops a cookie set inside a cross-site iframe. (Chromium accepts
    ``Secure`` on http://localhost, so the demo works without TLS.)
    """
    return (
        f"{cookie_name(pool_id)}={token}; Max-Age={max(0, int(max_age))}; Path=/; "
        "Secure; HttpOnly; SameSite=None; Partitioned"
    )


def clear_session_cookie(pool_id: str) -> str:
    return session_cookie(pool_id, "", 0)


def read_session_token(request: Request[Any, Any, Any], pool_id: str) -> str | None:
    token = request.cookies.get(cookie_name(pool_id))
    return token if token and len(token) <= MAX_TOKEN else None


def logout_csrf(services: Services, session_id: str) -> str:
    """The logout form's token, derived from the session: only a page rendered for this
    session has it, and it changes with every login."""
    return secrets_.keyed_hash(services.settings.secret_key, "logout", session_id)[:43]
