"""End users made straight in the database, for login, session and recovery tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from widget_server import secrets_
from widget_server.models import Address, Credential, User


@dataclass(frozen=True)
class Person:
    user_id: str
    pool: str
    email: str
    password: str


async def make_user(
    h: Any,
    email: str = "ada@example.com",
    password: str = "correct horse battery",
    *,
    pool: str = "partner-1",
    status: str = "active",
    phone: str | None = None,
) -> Person:
    """A user of ``pool`` with a verified email (and phone), and a password."""
    services = h.web.services
    now = h.clock.now()
    user_id = secrets_.new_id()
    secret_hash = await services.hashing.hash(password)
    async with services.db.write() as session:
        session.add(
            User(
                id=user_id,
                pool_id=pool,
                status=status,
                payload={"email": email},
                metadata_={},
                created_at=now,
                updated_at=now,
                activated_at=now if status == "active" else None,
            )
        )
        await session.flush()
        addresses = [("email", email.lower())] + ([("phone", phone)] if phone else [])
        for kind, value in addresses:
            session.add(
                Address(
                    id=secrets_.new_id(),
                    user_id=user_id,
                    pool_id=pool,
                    kind=kind,
                    value=value,
                    status="verified",
                    verified_at=now,
                    created_at=now,
                )
            )
        session.add(
            Credential(
                id=secrets_.new_id(),
                user_id=user_id,
                kind="password",
                secret_hash=secret_hash,
                created_at=now,
                updated_at=now,
            )
        )
    return Person(user_id, pool, email, password)
