"""What an admin's new user receives: an invitation (activation code + link to the widget's
activation page) or a one-time set-password link, by email, or by SMS to a phone pool's
user. Written into the caller's transaction,
with the email in the outbox, so a rolled-back create sends nothing.

Both are stored flows (``Flow.kind`` ``invitation`` / ``set_password``) that the widget
pages in ``web/invitation.py`` continue. The flow id is in the link; the secret that
proves the link came from the email is the code (invitation) or a separate token
(set-password), stored only as a keyed hash, so a copy of the database cannot be turned
into working links.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.mail.outbox import enqueue_email
from widget_server.models import Code, Flow
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.settings import Settings
from widget_server.sms import compose as sms_compose

INVITATION: Final = "invitation"
SET_PASSWORD: Final = "set_password"  # noqa: S105 - a flow kind, not a secret
#: Code purposes. Invitation codes share the registration's purpose (and its checks).
ACTIVATION: Final = "activation"
PURPOSES = (ACTIVATION, SET_PASSWORD)


def activation_link(settings: Settings, pool_id: str, flow_id: str) -> str:
    return f"{settings.public_url}/embed/{pool_id}/activate/{flow_id}"


def set_password_link(settings: Settings, pool_id: str, flow_id: str, token: str) -> str:
    return f"{settings.public_url}/embed/{pool_id}/set-password/{flow_id}?token={token}"


def code_hash(settings: Settings, purpose: str, flow_id: str, secret: str) -> str:
    return secrets_.keyed_hash(settings.secret_key, purpose, flow_id, secret)


async def invite(
    services: Services, session: AsyncSession, pool: PoolView, user_id: str, address: str
) -> str:
    """A fresh invitation flow for ``user_id`` with its code and email; returns the flow id."""
    now = services.clock.now()
    expires = now + timedelta(seconds=services.settings.invitation_ttl_seconds)
    flow_id = secrets_.new_token()
    await session.execute(
        insert(Flow)
        .values(**_flow_row(flow_id, INVITATION, "code", pool, user_id, address, now))
        .values(expires_at=expires)
    )
    await issue_invitation_code(services, session, pool, flow_id, user_id, address, expires)
    return flow_id


async def issue_invitation_code(
    services: Services,
    session: AsyncSession,
    pool: PoolView,
    flow_id: str,
    user_id: str,
    address: str,
    expires: datetime,
) -> None:
    """A new code on the invitation flow, valid as long as the flow, mailed with the link."""
    now, settings = services.clock.now(), services.settings
    code = secrets_.new_code()
    await session.execute(
        insert(Code).values(**_code_row(settings, ACTIVATION, flow_id, user_id, code, now, expires))
    )
    hours = max(1, math.ceil((expires - now).total_seconds() / 3600))
    link = activation_link(settings, pool.id, flow_id)
    per_hour = settings.mail_per_address_per_hour
    if is_phone(address):
        text = sms_compose.invitation(address, code, pool.name, link, hours)
        await enqueue_email(session, services.clock, text, per_hour, channel="sms")
        return
    envelope = services.composer.invitation(address, code, pool, link, hours)
    await enqueue_email(session, services.clock, envelope, per_hour)


async def send_set_password_link(
    services: Services, session: AsyncSession, pool: PoolView, user_id: str, address: str
) -> str:
    """A set-password flow, its single-use token and the email; returns the flow id."""
    now, settings = services.clock.now(), services.settings
    expires = now + timedelta(seconds=settings.invitation_ttl_seconds)
    flow_id, token = secrets_.new_token(), secrets_.new_token()
    row = _flow_row(flow_id, SET_PASSWORD, "password", pool, user_id, address, now)
    await session.execute(insert(Flow).values(**row).values(expires_at=expires))
    await session.execute(
        insert(Code).values(
            **_code_row(settings, SET_PASSWORD, flow_id, user_id, token, now, expires)
        )
    )
    link = set_password_link(settings, pool.id, flow_id, token)
    hours = settings.invitation_ttl_seconds // 3600
    per_hour = settings.mail_per_address_per_hour
    if is_phone(address):
        text = sms_compose.set_password(address, pool.name, link, max(hours, 1))
        await enqueue_email(session, services.clock, text, per_hour, channel="sms")
        return flow_id
    envelope = services.composer.set_password(address, pool, link, max(hours, 1))
    await enqueue_email(session, services.clock, envelope, per_hour)
    return flow_id


def is_phone(address: str) -> bool:
    """An E.164 number never holds an "@", an email address always does."""
    return "@" not in address


async def latest_invitation_code(session: AsyncSession, user_id: str) -> Code | None:
    """The newest unused invitation code of ``user_id`` (for the resend cooldown)."""
    result = await session.execute(
        select(Code)
        .join(Flow, Flow.id == Code.flow_id)
        .where(
            Code.user_id == user_id,
            Code.purpose == ACTIVATION,
            Code.used_at.is_(None),
            Flow.kind == INVITATION,
        )
        .order_by(Code.sent_at.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def drop_pending(session: AsyncSession, user_id: str) -> None:
    """Remove the user's unfinished invitation and set-password flows (their codes go with
    them): an old link then says "not valid" instead of offering a dead code step."""
    await session.execute(
        delete(Flow).where(
            Flow.user_id == user_id,
            Flow.kind.in_((INVITATION, SET_PASSWORD)),
            Flow.state != "done",
        )
    )


def _flow_row(
    flow_id: str,
    kind: str,
    state: str,
    pool: PoolView,
    user_id: str,
    address: str,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": flow_id,
        "kind": kind,
        "pool_id": pool.id,
        "state": state,
        "step": "",
        "data": {},
        "password_hash": None,
        "parent_origin": None,
        "user_id": user_id,
        "address": address,
        "created_at": now,
        "updated_at": now,
    }


def _code_row(
    settings: Settings,
    purpose: str,
    flow_id: str,
    user_id: str,
    secret: str,
    now: datetime,
    expires: datetime,
) -> dict[str, Any]:
    return {
        "id": secrets_.new_id(),
        "flow_id": flow_id,
        "user_id": user_id,
        "purpose": purpose,
        "code_hash": code_hash(settings, purpose, flow_id, secret),
        "expires_at": expires,
        "attempts": 0,
        "max_attempts": settings.code_max_attempts,
        "sent_at": now,
        "used_at": None,
    }
