"""The user's live sessions, for the account portal: list, end one, end all others.

"Live" is what ``auth.sessions.current_session`` accepts: not revoked, not past its
absolute lifetime, used within the pool's idle time. Ending is a conditional UPDATE on
(session, user), so a user can only ever end their own sessions.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import select, update

from widget_server.auth.sessions import SessionView, revoke_user_sessions
from widget_server.models import Session
from widget_server.pools import PoolView
from widget_server.services import Services

log = logging.getLogger(__name__)

_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"))  # fmt: skip
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))  # fmt: skip
_PRINTABLE = re.compile(r"[^\x20-\x7e]")


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    created_at: datetime
    last_seen_at: datetime
    #: "Chrome on Linux", or None when the User-Agent says nothing we know.
    device: str | None
    ip: str | None
    current: bool
    second_factor: bool


def describe_agent(agent: str | None) -> str | None:
    """A short, human name for a User-Agent; only fixed words, never the client's text."""
    if not agent:
        return None
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system


async def list_sessions(services: Services, pool: PoolView, live: SessionView) -> list[SessionRow]:
    now = services.clock.now()
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(Session)
                .where(
                    Session.user_id == live.user_id,
                    Session.pool_id == pool.id,
                    Session.revoked_at.is_(None),
                    Session.expires_at > now,
                    Session.last_seen_at > now - timedelta(seconds=pool.session_idle_seconds),
                )
                .order_by(Session.last_seen_at.desc())
            )
        ).scalars()
        found = [
            SessionRow(
                id=row.id,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                device=describe_agent(row.user_agent),
                ip=_PRINTABLE.sub("", row.ip) if row.ip else None,
                current=row.id == live.id,
                second_factor=len(row.amr or ()) > 1,
            )
            for row in rows
        ]
    # This browser first, then the most recently used.
    return sorted(found, key=lambda r: not r.current)


async def end_one(services: Services, live: SessionView, session_id: str) -> bool:
    """End one of the user's sessions (this one included: that is a logout)."""
    async with services.db.write() as session:
        result = await session.execute(
            update(Session)
            .where(
                Session.id == session_id,
                Session.user_id == live.user_id,
                Session.revoked_at.is_(None),
            )
            .values(revoked_at=services.clock.now())
        )
    ended = bool(result.rowcount)  # type: ignore[attr-defined]
    if ended:
        log.info("account: user %s ended one of their sessions", live.user_id)
    return ended


async def end_others(services: Services, live: SessionView) -> int:
    async with services.db.write() as session:
        ended = await revoke_user_sessions(
            session, live.user_id, services.clock.now(), except_session_id=live.id
        )
    log.info("account: user %s ended %d other sessions", live.user_id, ended)
    return ended
