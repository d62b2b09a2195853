"""Entering a login's ``mfa`` state (called by ``flows/login.py``): what the MFA page will
offer, and the first emailed code for users who have no authenticator app.

Kept apart from ``flows/mfa.py`` (which completes the step and imports the login flow),
so the login flow can call it without an import cycle. The options are stored in the
flow's ``data["mfa"]``; the page is drawn from them without another query.

::

    data["mfa"] = {"totp": bool,            the user has a confirmed authenticator app
                   "email": "j•••@x.com",   where codes go (None: no verified email)
                   "sent_to": "j•••@x.com"} a code went there (the email form comes first)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.auth import codes, mfa
from widget_server.mail.outbox import enqueue_email
from widget_server.models import Address, Flow, User
from widget_server.pools import PoolView
from widget_server.services import Services

PURPOSE = "mfa"


def mask(address: str) -> str:
    """``j•••@example.com``: enough to recognise, not enough to harvest."""
    local, at, domain = address.partition("@")
    if not at:
        return address[:3] + "•••" + address[-2:]
    return f"{local[:1]}•••@{domain}"


async def email_of(services: Services, user_id: str) -> str | None:
    """The user's sign-in email: the verified email address named in the payload, else
    the oldest verified one."""
    async with services.db.read() as session:
        payload = await session.scalar(select(User.payload).where(User.id == user_id))
        found = list(
            (
                await session.execute(
                    select(Address.value)
                    .where(
                        Address.user_id == user_id,
                        Address.kind == "email",
                        Address.status == "verified",
                    )
                    .order_by(Address.created_at)
                )
            ).scalars()
        )
    named = {str(v).lower() for v in (payload or {}).values() if isinstance(v, str)}
    return next((a for a in found if a in named), found[0] if found else None)


async def options(services: Services, user_id: str) -> dict[str, Any]:
    """What the MFA page offers; ``sent_to`` is set when ``on_enter`` will send a code."""
    state = await mfa.factor_state(services, user_id)
    email = await email_of(services, user_id)
    masked = mask(email) if email else None
    # No app: a code by email is the second factor, sent at once.
    return {"totp": state.totp, "email": masked, "sent_to": None if state.totp else masked}


async def on_enter(
    services: Services,
    session: AsyncSession,
    pool: PoolView,
    flow_id: str,
    user_id: str,
    offered: dict[str, Any],
) -> None:
    """In the login's transaction, after the flow row is written: the first code."""
    if not offered.get("sent_to"):
        return
    await send_code(services, session, pool, flow_id, user_id)


async def send_code(
    services: Services, session: AsyncSession, pool: PoolView, flow_id: str, user_id: str
) -> str | None:
    """Email a sign-in code for the flow (60 s apart, ``ResendTooSoon`` before); returns
    the masked address, or None when the user has no verified email."""
    address = await email_of(services, user_id)
    if address is None:
        return None
    code = await codes.issue(services, session, PURPOSE, flow_id, user_id)
    minutes = services.settings.code_ttl_seconds // 60
    envelope = services.composer.mfa_code(address, code, pool.name, minutes)
    await enqueue_email(
        session, services.clock, envelope, services.settings.mail_per_address_per_hour
    )
    return mask(address)


async def remember_sent(session: AsyncSession, flow: Flow, masked: str, now: Any) -> dict[str, Any]:
    """Record on the flow that a code went out (the page then asks for it first)."""
    data = dict(flow.data)
    data["mfa"] = dict(data.get("mfa") or {}) | {"sent_to": masked, "email": masked}
    await session.execute(
        update(Flow)
        .where(Flow.id == flow.id, Flow.state == "mfa")
        .values(data=data, updated_at=now)
    )
    return data
