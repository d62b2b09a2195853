"""What the admin API and portal show of a user: JSON-friendly structs, loaded in batches.

Credential hashes are never selected: ``has_password`` comes from a query on the
credential's ``user_id`` column alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import Address, Credential, User


class AddressView(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: str
    value: str
    status: str
    verified_at: datetime | None


class UserView(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    pool_id: str
    status: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    addresses: list[AddressView]
    has_password: bool
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None
    #: When the user last signed in (a session began); None if never.
    last_login_at: datetime | None = None
    #: The admin principal that created the user; None for self-registration.
    created_by: str | None


class UserPage(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    items: list[UserView]
    #: How many match: exact (``total_kind`` ``exact``), PostgreSQL's estimate
    #: (``estimate``), or at least this many (``at_least``); never a count of a million rows.
    total: int
    total_kind: Literal["exact", "estimate", "at_least"] = "exact"
    limit: int
    offset: int
    sort: str = "-created"
    #: Opaque cursors: the next and previous pages of this search (None at either end),
    #: and the last page. The first page is the search without a cursor.
    next_cursor: str | None = None
    prev_cursor: str | None = None
    last_cursor: str | None = None


async def views_of(
    session: AsyncSession, users: Sequence[User], with_password: Collection[str] | None = None
) -> list[UserView]:
    """Views of ``users`` with their addresses and credential flag: two queries in all,
    one when ``with_password`` (the ids of those with a password) was read already."""
    ids = [u.id for u in users]
    if not ids:
        return []
    addresses: dict[str, list[AddressView]] = {i: [] for i in ids}
    found = await session.execute(
        select(Address.user_id, Address.kind, Address.value, Address.status, Address.verified_at)
        .where(Address.user_id.in_(ids))
        .order_by(Address.created_at, Address.value)
    )
    for user_id, kind, value, status, verified_at in found:
        addresses[user_id].append(
            AddressView(kind=kind, value=value, status=status, verified_at=verified_at)
        )
    if with_password is None:
        found = await session.execute(select(Credential.user_id).where(Credential.user_id.in_(ids)))
        with_password = set(found.scalars())
    return [_view(u, addresses[u.id], u.id in with_password) for u in users]


def _view(user: User, addresses: list[AddressView], has_password: bool) -> UserView:
    return UserView(
        id=user.id,
        pool_id=user.pool_id,
        status=user.status,
        payload=dict(user.payload or {}),
        metadata=dict(user.metadata_ or {}),
        addresses=addresses,
        has_password=has_password,
        created_at=user.created_at,
        updated_at=user.updated_at,
        activated_at=user.activated_at,
        last_login_at=user.last_login_at,
        created_by=user.created_by,
    )
