"""What an ID token (and the userinfo endpoint) says about a user, per granted scope.

Only verified addresses are released: an unverified email in a token would let anyone
who typed someone else's address be taken for them by the partner. Roles and groups come
from the user's admin-set metadata (``metadata.roles`` / ``metadata.groups``), strings
only, so a free-form metadata document cannot smuggle structures into the token. The
``profile`` claims come from the fields the pool's claim mapping names (``mapping.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec
from sqlalchemy import select

from widget_server.models import Address, User
from widget_server.oidc.mapping import mapped_claims
from widget_server.services import Services

MAX_LIST = 100


class Subject(msgspec.Struct, frozen=True, kw_only=True):
    """The user as the token endpoint needs them."""

    id: str
    pool_id: str
    status: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    #: Verified addresses by kind (``email``, ``phone``).
    verified: dict[str, str]


async def load_subject(services: Services, user_id: str) -> Subject | None:
    async with services.db.read() as session:
        user = await session.get(User, user_id)
        if user is None:
            return None
        addresses = await session.execute(
            select(Address.kind, Address.value)
            .where(Address.user_id == user_id, Address.status == "verified")
            .order_by(Address.created_at)
        )
        verified: dict[str, str] = {}
        for kind, value in addresses:
            verified.setdefault(kind, value)
    return Subject(
        id=user.id,
        pool_id=user.pool_id,
        status=user.status,
        payload=dict(user.payload or {}),
        metadata=dict(user.metadata_ or {}),
        verified=verified,
    )


def user_claims(
    subject: Subject, scopes: Iterable[str], mapping: Mapping[str, str]
) -> dict[str, Any]:
    """``mapping``: the pool's claim mapping (``PoolView.claim_mapping``, ``mapping.py``)."""
    granted = set(scopes)
    claims: dict[str, Any] = {"sub": subject.id, "pool": subject.pool_id}
    if "email" in granted and "email" in subject.verified:
        claims |= {"email": subject.verified["email"], "email_verified": True}
    if "phone" in granted and "phone" in subject.verified:
        claims |= {"phone_number": subject.verified["phone"], "phone_number_verified": True}
    if "profile" in granted:
        claims |= mapped_claims(mapping, subject.payload, subject.metadata)
    for scope in ("roles", "groups"):
        if scope in granted:
            claims[scope] = _strings(subject.metadata.get(scope))
    return claims


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)][:MAX_LIST]
