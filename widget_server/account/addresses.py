"""A user's addresses: list, add a second email (verified by a code), remove.

::

    add(address) ─→ pending (a flow of kind "address", state "code", one per user)
                     │ ─verify(code)→ address row, verified        (flow done)
                     │ ─add again ──→ replaces it (60 s after the last code)
                     └ expires with its code (10 min)

Nothing is written to ``addresses`` until the code is right: an address typed by
someone who does not own the mailbox never blocks the owner's own registration. Then
the unique index (pool, kind, value) decides who gets it (``INSERT … ON CONFLICT DO
NOTHING``), not a read-then-insert check.

Enumeration safety: adding an address that belongs to another account of the pool looks
the same (same answer, same page, one email): the owner gets a notice instead of a code
and the pending flow's code has no user, so no code can succeed.

Phone numbers (pools that take them): read like the login reads them (E.164, the pool's
regions, no premium-rate numbers) and verified by a code by SMS through the outbox.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta

import msgspec
from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.auth import codes
from widget_server.auth.identifiers import accepts_phone
from widget_server.canonical import IdentifierRefused, canonical_email
from widget_server.errors import CodeExhausted, CodeExpired, InvalidInput, ResendTooSoon
from widget_server.forms import identifier_field
from widget_server.forms.schema import properties
from widget_server.mail.outbox import enqueue_email
from widget_server.mail.senders import Envelope
from widget_server.messages import msg
from widget_server.models import Address, Flow, User
from widget_server.phones import PhoneRefused, default_region_for, normalise_phone
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.sms import compose as sms_compose
from widget_server.upsert import insert_ignoring_conflict
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

KIND = "address"
PURPOSE = "verify_address"
FIELD = "address"
MAX_ADDRESSES = 5
_PHONE_LIKE = re.compile(r"[+(]?[0-9][0-9 ().-]{4,}", re.ASCII)
#: Texts go through the outbox (``channel="sms"``) to the configured SMS provider.
PHONE_AVAILABLE = True


class AddressView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    value: str
    verified: bool
    #: The sign-in identifier named in the payload: never removed here.
    primary: bool


class Pending(msgspec.Struct, frozen=True, kw_only=True):
    flow_id: str
    address: str


def phone_allowed(pool: PoolView) -> bool:
    return PHONE_AVAILABLE and accepts_phone(pool)


async def list_addresses(
    services: Services, pool: PoolView, user_id: str
) -> tuple[list[AddressView], Pending | None]:
    now = services.clock.now()
    async with services.db.read() as session:
        payload = await session.scalar(select(User.payload).where(User.id == user_id)) or {}
        rows = (
            await session.execute(
                select(Address).where(Address.user_id == user_id).order_by(Address.created_at)
            )
        ).scalars()
        pending = await session.scalar(_pending_query(user_id, now))
    primary = _primary(pool, payload)
    views = [
        AddressView(
            id=a.id,
            kind=a.kind,
            value=a.value,
            verified=a.status == "verified",
            primary=a.value == primary,
        )
        for a in rows
    ]
    views.sort(key=lambda v: not v.primary)
    found = Pending(flow_id=pending.id, address=pending.address or "") if pending else None
    return views, found


def _primary(pool: PoolView, payload: dict[str, object]) -> str:
    return str(payload.get(identifier_field(pool.schema)) or "").lower()


def _pending_query(user_id: str, now: datetime) -> Select[Flow]:
    return (
        select(Flow)
        .where(
            Flow.user_id == user_id,
            Flow.kind == KIND,
            Flow.state == "code",
            Flow.expires_at > now,
        )
        .order_by(Flow.created_at.desc())
        .limit(1)
    )


def read_address(pool: PoolView, raw: str) -> tuple[str, str]:
    """``(kind, value)`` of what was typed: a normalised email address, or a phone number
    in E.164 where the pool takes phone numbers; else ``InvalidInput`` on ``address``."""
    text = raw.strip()
    if not text:
        raise InvalidInput({FIELD: [msg("form.required")]})
    if _PHONE_LIKE.fullmatch(text):
        if not phone_allowed(pool):
            raise InvalidInput({FIELD: [msg("account.phone_unavailable")]})
        identifier = properties(pool.schema).get(identifier_field(pool.schema), {})
        region = default_region_for(identifier.get("x-default-region"), pool.phone_regions)
        try:
            return "phone", normalise_phone(text, default_region=region, regions=pool.phone_regions)
        except PhoneRefused as refused:
            raise InvalidInput({FIELD: [refused.message]}) from None
    try:
        value = canonical_email(text)
    except IdentifierRefused as refused:
        raise InvalidInput({FIELD: [refused.message]}) from None
    domains = pool.email_domains
    if domains and value.rpartition("@")[2] not in domains:
        listed = ", ".join(f"@{d}" for d in domains)
        raise InvalidInput({FIELD: [msg("admin.email_domain", domains=listed)]})
    return "email", value


async def add_address(services: Services, pool: PoolView, user_id: str, raw: str) -> Pending:
    """Start verifying ``raw``: a code to it, or (someone else's) a notice to its owner."""
    kind, value = read_address(pool, raw)
    now = services.clock.now()
    async with services.db.write() as session:
        mine = list(
            (
                await session.execute(select(Address.value).where(Address.user_id == user_id))
            ).scalars()
        )
        if value in mine:
            raise InvalidInput({FIELD: [msg("account.address_exists")]})
        if len(mine) >= MAX_ADDRESSES:
            raise InvalidInput({FIELD: [msg("account.too_many_addresses", max=MAX_ADDRESSES)]})
        flow_id = await _replace_pending(services, session, user_id, kind, value, now)
        owner = await session.scalar(
            select(Address.user_id).where(
                Address.pool_id == pool.id, Address.kind == kind, Address.value == value
            )
        )
        taken = owner is not None
        code = await codes.issue(services, session, PURPOSE, flow_id, None if taken else user_id)
        envelope = _message(services, pool, kind, value, None if taken else code)
        await enqueue_email(
            session,
            services.clock,
            envelope,
            services.settings.mail_per_address_per_hour,
            channel="sms" if kind == "phone" else "email",
        )
    services.notify_outbox()
    log.info("account: user %s asked to add an address%s", user_id, " (taken)" if taken else "")
    return Pending(flow_id=flow_id, address=value)


def _message(
    services: Services, pool: PoolView, kind: str, value: str, code: str | None
) -> Envelope:
    """The code (an email or a text), or without one the notice to the address's owner."""
    minutes = services.settings.code_ttl_seconds // 60
    if kind == "phone":
        if code is None:
            return sms_compose.address_in_use(value, pool.name)
        return sms_compose.verify_address(value, code, pool.name, minutes)
    if code is None:
        return services.composer.address_in_use(value, pool)
    return services.composer.verify_address(value, code, pool, minutes)


async def _replace_pending(
    services: Services,
    session: AsyncSession,
    user_id: str,
    kind: str,
    value: str,
    now: datetime,
) -> str:
    """The user's one pending flow, for ``value``: the old one goes once its code's
    cooldown is over (``ResendTooSoon`` before that: one email a minute, whatever typed)."""
    old = await session.scalar(_pending_query(user_id, now))
    if old is not None:
        previous = await codes.current(session, PURPOSE, old.id)
        cooldown = timedelta(seconds=services.settings.code_resend_cooldown_seconds)
        if previous is not None and previous.sent_at > now - cooldown:
            wait = int((previous.sent_at + cooldown - now).total_seconds()) + 1
            raise ResendTooSoon(max(wait, 1))
        await session.execute(delete(Flow).where(Flow.id == old.id))
    flow_id = secrets_.new_token()
    await session.execute(
        insert(Flow).values(
            id=flow_id,
            kind=KIND,
            pool_id=await session.scalar(select(User.pool_id).where(User.id == user_id)),
            state="code",
            step="",
            data={"kind": kind},
            password_hash=None,
            parent_origin=None,
            app_id=None,
            oauth={},
            user_id=user_id,
            address=value,
            expires_at=now + timedelta(seconds=services.settings.code_ttl_seconds),
            created_at=now,
            updated_at=now,
        )
    )
    return flow_id


async def verify_address(services: Services, pool: PoolView, user_id: str, code: str) -> str:
    """Add the pending address once its code is right; returns the address."""
    code = code.strip()
    if not codes.well_formed(code):
        raise InvalidInput({"code": [msg("code.format")]})
    now = services.clock.now()
    outcome: Exception | None = None
    async with services.db.write() as session:
        pending = await session.scalar(_pending_query(user_id, now))
        if pending is None:
            raise InvalidInput({"": [msg("account.no_pending_address")]})
        checked = await codes.check(services, session, PURPOSE, pending.id, code)
        if isinstance(checked, Exception):
            outcome = checked
        elif checked.user_id != user_id:
            outcome = CodeExhausted()  # never: such a code cannot be right (see codes.check)
        else:
            outcome = await _store(session, pool, pending, now)
        if outcome is None:
            await emit.user_updated(
                session, pool, user_id, now, source="account", changes=["addresses"]
            )
    if outcome is not None:
        raise outcome
    log.info("account: user %s verified a new address", user_id)
    return pending.address or ""


async def _store(
    session: AsyncSession, pool: PoolView, pending: Flow, now: datetime
) -> Exception | None:
    row = {
        "id": secrets_.new_id(),
        "user_id": pending.user_id,
        "pool_id": pool.id,
        "kind": (pending.data or {}).get("kind", "email"),
        "value": pending.address,
        "status": "verified",
        "verified_at": now,
        "created_at": now,
    }
    await session.execute(
        update(Flow).where(Flow.id == pending.id).values(state="done", updated_at=now)
    )
    if not await insert_ignoring_conflict(
        session, Address, row, conflict_columns=("pool_id", "kind", "value")
    ):
        # Taken since the code was sent (another account verified it first).
        return CodeExpired()
    return None


async def remove_address(services: Services, pool: PoolView, user_id: str, address_id: str) -> str:
    """Remove one of the user's addresses: never the sign-in one, never the last verified."""
    async with services.db.write() as session:
        payload = await session.scalar(select(User.payload).where(User.id == user_id)) or {}
        found = await session.scalar(
            select(Address).where(Address.id == address_id, Address.user_id == user_id)
        )
        if found is None:
            raise InvalidInput({"": [msg("account.address_unknown")]})
        if found.value == _primary(pool, payload):
            raise InvalidInput({"": [msg("account.address_primary")]})
        verified = await session.scalar(
            select(func.count()).where(
                Address.user_id == user_id, Address.status == "verified", Address.id != found.id
            )
        )
        if not verified:
            raise InvalidInput({"": [msg("account.address_primary")]})
        await session.execute(delete(Address).where(Address.id == found.id))
        now = services.clock.now()
        await emit.user_updated(
            session, pool, user_id, now, source="account", changes=["addresses"]
        )
    log.info("account: user %s removed an address", user_id)
    return found.value
