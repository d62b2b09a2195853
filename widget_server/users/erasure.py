"""Deleting a user: what goes, what stays, in the caller's transaction.

Goes: payload and metadata (emptied), addresses (so they are free for a new
registration at once), credential, password history, flows and codes, sessions, and
mail still waiting to be sent to the user's addresses. Stays: the user row with its id,
status ``deleted`` and timestamps, so the audit trail (which names users by id only)
still points somewhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import (
    Address,
    Credential,
    Flow,
    OutboxMessage,
    PasswordHistory,
    Session,
    User,
)


async def erase(session: AsyncSession, user_id: str, now: datetime) -> None:
    addresses = list(
        (await session.execute(select(Address.value).where(Address.user_id == user_id))).scalars()
    )
    if addresses:
        # Sent rows are already scrubbed of content; what is still queued would otherwise
        # deliver personal data (a code, a name) after the deletion.
        await session.execute(
            delete(OutboxMessage).where(
                func.lower(OutboxMessage.recipient).in_([a.lower() for a in addresses]),
                OutboxMessage.status.in_(("pending", "failed")),
            )
        )
    for model in (Address, Credential, PasswordHistory, Session):
        await session.execute(delete(model).where(model.user_id == user_id))
    # Codes cascade with their flows; registration flows hold the payload in ``data``.
    await session.execute(delete(Flow).where(Flow.user_id == user_id))
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(status="deleted", deleted_at=now, updated_at=now, payload={}, metadata_={})
    )
