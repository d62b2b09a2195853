"""One-time codes bound to a purpose and a stored flow: second-factor codes (``mfa``) and
address verification (``verify_address``). The same rules as activation codes
(docs/architecture.md): 6 digits from ``secrets``, stored as an HMAC over (purpose, flow, code),
10 minutes, 5 attempts, 60 s before a new one, single use.

Bound three ways, so a code can only ever do the one thing it was sent for: the HMAC
covers the purpose and the flow id, and every lookup filters on both (an activation or
recovery code never verifies an address, nor one user's code another user's flow).

``check`` decides inside the caller's transaction and *returns* the error instead of
raising it: a wrong guess must be counted (committed) although the caller fails.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.errors import (
    CodeExhausted,
    CodeExpired,
    CodeInvalid,
    FlowStateError,
    ResendTooSoon,
)
from widget_server.models import Code, Flow
from widget_server.services import Services


def code_hash(services: Services, purpose: str, flow_id: str, code: str) -> str:
    return secrets_.keyed_hash(services.settings.secret_key, purpose, flow_id, code)


def well_formed(code: str) -> bool:
    # isascii: str.isdigit() also accepts "١٢٣٤٥٦" and "²", which must not cost an attempt.
    return len(code) == secrets_.CODE_DIGITS and code.isascii() and code.isdigit()


def _row(
    services: Services, purpose: str, flow_id: str, user_id: str | None, code: str
) -> dict[str, Any]:
    settings, now = services.settings, services.clock.now()
    return {
        "id": secrets_.new_id(),
        "flow_id": flow_id,
        "user_id": user_id,
        "purpose": purpose,
        "code_hash": code_hash(services, purpose, flow_id, code),
        "expires_at": now + timedelta(seconds=settings.code_ttl_seconds),
        "attempts": 0,
        "max_attempts": settings.code_max_attempts,
        "sent_at": now,
        "used_at": None,
    }


async def current(session: AsyncSession, purpose: str, flow_id: str) -> Code | None:
    """The newest unused code of the flow for ``purpose``."""
    result = await session.execute(
        select(Code)
        .where(Code.flow_id == flow_id, Code.purpose == purpose, Code.used_at.is_(None))
        .order_by(Code.sent_at.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def issue(
    services: Services, session: AsyncSession, purpose: str, flow_id: str, user_id: str | None
) -> str:
    """A new code on the flow, replacing the unused one if its cooldown is over; raises
    ``ResendTooSoon`` otherwise. ``user_id`` None: a code that can never succeed (sent
    nowhere; the address belongs to someone else)."""
    now = services.clock.now()
    cooldown = timedelta(seconds=services.settings.code_resend_cooldown_seconds)
    previous = await current(session, purpose, flow_id)
    if previous is not None and not await retire(session, previous, now - cooldown, now):
        wait = int((previous.sent_at + cooldown - now).total_seconds()) + 1
        raise ResendTooSoon(max(wait, 1))
    code = secrets_.new_code()
    await session.execute(insert(Code).values(**_row(services, purpose, flow_id, user_id, code)))
    services.telemetry.metrics.code_sent(purpose)
    return code


async def retire(session: AsyncSession, code: Code, sent_before: datetime, now: datetime) -> bool:
    """Conditional, so of parallel resends exactly one wins."""
    retired = await session.execute(
        update(Code)
        .where(Code.id == code.id, Code.used_at.is_(None), Code.sent_at <= sent_before)
        .values(used_at=now)
    )
    return retired.rowcount == 1  # type: ignore[attr-defined, no-any-return]


async def check(
    services: Services, session: AsyncSession, purpose: str, flow_id: str, code: str
) -> Code | Exception:
    """The code row, now used, if ``code`` is right; else the error to raise after commit
    (wrong guesses counted atomically, so parallel guesses cannot share one attempt)."""
    outcome = await _check(services, session, purpose, flow_id, code)
    services.telemetry.metrics.code_checked(purpose, isinstance(outcome, Code))
    return outcome


async def _check(
    services: Services, session: AsyncSession, purpose: str, flow_id: str, code: str
) -> Code | Exception:
    now = services.clock.now()
    found = await current(session, purpose, flow_id)
    if found is None or found.attempts >= found.max_attempts:
        return CodeExhausted()
    if found.expires_at <= now:
        return CodeExpired()
    right = secrets_.matches(found.code_hash, services.settings.secret_key, purpose, flow_id, code)
    if right and found.user_id is not None:
        used = await session.execute(
            update(Code).where(Code.id == found.id, Code.used_at.is_(None)).values(used_at=now)
        )
        # Another request used it first: to this one it is gone.
        return found if used.rowcount == 1 else CodeExhausted()  # type: ignore[attr-defined]
    counted = await session.execute(
        update(Code)
        .where(Code.id == found.id, Code.attempts < Code.max_attempts)
        .values(attempts=Code.attempts + 1)
        .returning(Code.attempts)
    )
    attempts = counted.scalar_one_or_none()
    if attempts is None or attempts >= found.max_attempts:
        return CodeExhausted()
    return CodeInvalid(found.max_attempts - attempts)


async def check_in_flow(
    services: Services,
    session: AsyncSession,
    purpose: str,
    flow_id: str,
    code: str,
    *,
    done_message: str,
) -> Code | Exception:
    """``check`` for a flow that waits in state ``code`` (registration, invitation,
    recovery): a code that is gone because the flow has moved on (a parallel request got
    there first) answers ``FlowStateError(done_message)``, not "too many attempts"."""
    outcome = await check(services, session, purpose, flow_id, code)
    if isinstance(outcome, CodeExhausted):
        state = await session.scalar(select(Flow.state).where(Flow.id == flow_id))
        if state != "code":
            return FlowStateError(done_message)
    return outcome
