"""Entering a login's ``mfa`` state (called by ``flows/login.py``): what the MFA page will
offer, and the first emailed code for users who have no authenticator app.

Kept apart from ``flows/mfa.py`` (which completes the step and imports the login flow),
so the login flow can call it without an import cycle. The options are stored in the
flow's ``data["mfa"]``; the page is drawn from them without another query.

::

    data["mfa"] = {"totp": bool,            the user has a confirmed authenticator app
                   "email": "j•••@x.com",   where codes go (None: no verified address)
                   "channel": "email",      or "sms" for a user with a phone number only
                   "sent_to": "j•••@x.com"} a code went there (the email form comes first)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.auth import codes, mfa
from widget_server.mail.outbox import enqueue_email
from widget_server.models import Address, Flow, User
from widget_server.phones import masked as masked_phone
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.sms import compose as sms_compose

PURPOSE = "mfa"


def mask(address: str) -> str:
    """``j•••@example.com``: enough to recognise, not enough to harvest."""
    local, at, domain = address.partition("@")
    if not at:
        return address[:3] + "•••" + address[-2:]
    return f"{local[:1]}•••@{domain}"


async def contact_of(services: Services, user_id: str) -> tuple[str, str] | None:
    """Where the user's codes go: ``("email", address)`` — the verified email named in the
    payload, else the oldest verified one — or, without any, ``("phone", e164)``."""
    async with services.db.read() as session:
        payload = await session.scalar(select(User.payload).where(User.id == user_id))
        found = (
            await session.execute(
                select(Address.kind, Address.value)
                .where(Address.user_id == user_id, Address.status == "verified")
                .order_by(Address.created_at)
            )
        ).all()
    named = {str(v).lower() for v in (payload or {}).values() if isinstance(v, str)}
    ranked = sorted(found, key=lambda row: (row[0] != "email", row[1] not in named))
    return (ranked[0][0], ranked[0][1]) if ranked else None


def _masked(kind: str, value: str) -> str:
    return masked_phone(value) if kind == "phone" else mask(value)


async def options(services: Services, user_id: str) -> dict[str, Any]:
    """What the MFA page offers; ``sent_to`` is set when ``on_enter`` will send a code."""
    state = await mfa.factor_state(services, user_id)
    contact = await contact_of(services, user_id)
    masked = _masked(*contact) if contact else None
    channel = "sms" if contact and contact[0] == "phone" else "email"
    # No app: a code by email (or text) is the second factor, sent at once.
    return {
        "totp": state.totp,
        "email": masked,
        "channel": channel,
        "sent_to": None if state.totp else masked,
    }


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
    """Send a sign-in code for the flow (60 s apart, ``ResendTooSoon`` before) by email, or
    by text to a phone-only user; returns where to (masked), None without a verified address."""
    contact = await contact_of(services, user_id)
    if contact is None:
        return None
    kind, address = contact
    code = await codes.issue(services, session, PURPOSE, flow_id, user_id)
    minutes = services.settings.code_ttl_seconds // 60
    if kind == "phone":
        envelope = sms_compose.mfa_code(address, code, pool.name, minutes)
    else:
        envelope = services.composer.mfa_code(address, code, pool, minutes)
    await enqueue_email(
        session,
        services.clock,
        envelope,
        services.settings.mail_per_address_per_hour,
        channel="sms" if kind == "phone" else "email",
    )
    return _masked(kind, address)


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
