"""Password history: no reuse of a user's last N passwords (a pool policy's ``history``).

Whoever sets a password (registration, admin, set-password link, change) first asks
``reused(hashing, new, await recent_hashes(session, user, policy.history))`` and refuses
with ``NoReuse.reused()`` when it is; after storing the new credential it calls
``remember(session, user, new_hash, policy.history, now)``. The history holds the
current password too, so "the last 5" means the current one and the four before it.

Only self-describing argon2 strings are kept (never the password); they are personal
data and go with the user (``ON DELETE CASCADE``, and the erasure service).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import PasswordHistory
from widget_server.passwords.hashing import HashingPool
from widget_server.secrets_ import new_id


async def reused(hashing: HashingPool, password: str, hashes: Sequence[str]) -> bool:
    """True if ``password`` matches any of ``hashes``.

    One verify at a time through the bounded hashing pool (each ~17 ms at OWASP cost;
    at most ``MAX_HISTORY`` of them): a change of password is rare, and running them
    side by side would take every slot from logins. Stops at the first match.
    ``Overloaded`` from the pool propagates: the caller answers 503, nothing is stored.
    """
    for stored in hashes:
        ok, _ = await hashing.verify(stored, password)
        if ok:
            return True
    return False


async def recent_hashes(session: AsyncSession, user_id: str, keep: int) -> list[str]:
    """The user's newest ``keep`` password hashes, newest first (none when ``keep`` <= 0)."""
    if keep <= 0:
        return []
    rows = await session.execute(
        select(PasswordHistory.secret_hash)
        .where(PasswordHistory.user_id == user_id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .limit(keep)
    )
    return list(rows.scalars())


async def remember(
    session: AsyncSession, user_id: str, secret_hash: str, keep: int, now: datetime
) -> None:
    """Record ``secret_hash`` as the user's newest password and keep only the newest
    ``keep`` (``keep`` = 0: the pool keeps no history, so none is stored and any old
    entries go). Runs in the caller's transaction, with the credential change."""
    if keep <= 0:
        await session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user_id))
        return
    entry_id = new_id()
    session.add(
        PasswordHistory(id=entry_id, user_id=user_id, secret_hash=secret_hash, created_at=now)
    )
    await session.flush()
    # The new entry always stays, even when an older one carries the same timestamp; of
    # the others, the newest keep - 1 stay.
    older = await session.execute(
        select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user_id, PasswordHistory.id != entry_id)
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc())
        .offset(keep - 1)
    )
    stale = list(older.scalars())
    if stale:
        await session.execute(delete(PasswordHistory).where(PasswordHistory.id.in_(stale)))
