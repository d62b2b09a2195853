"""Second factors of end users: TOTP (RFC 6238, pyotp) and one-time codes by email.

::

    none ─begin_totp→ totp, unconfirmed ─confirm_totp(code)→ totp, confirmed
                        ↺ begin again replaces it                │
    none ←──────────────────────────── disable_totp(password) ───┘

A TOTP seed is 160 random bits (``pyotp.random_base32``), shown to the user once and
stored sealed (``crypto.seal``: AES-GCM under a key derived from the server secret, the
factor id as associated data). A code is accepted for the current 30-second step or one
step either side (clock drift); each step is good once: ``last_step`` only moves forward,
by a conditional UPDATE, so a replayed code (or two requests racing with one code) passes
at most once.

Guessing is bounded per user, whatever the IP: every TOTP or emailed code typed is counted
before it is checked (``MfaThrottle``, the login throttle's atomic store), with progressive
waits after five; emailed codes also die after five wrong tries (``auth.codes``).

Codes by email (purpose ``mfa``) are the default second factor of a pool that requires
one, for users who enrolled nothing (``flows/mfa.py`` sends them on the login flow).
SMS would go the same way once a provider exists; until then phone-only users of a pool
requiring MFA must enrol TOTP in the account portal first.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Callable
from datetime import datetime

import msgspec
import pyotp
from sqlalchemy import delete, or_, select, update

from widget_server import crypto, secrets_
from widget_server.auth.throttle import Limit, ThrottleStore
from widget_server.errors import InvalidInput, MfaCodeInvalid, MfaCodeReused, MfaThrottled
from widget_server.messages import msg
from widget_server.models import Credential, MfaFactor
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

PERIOD = 30
#: What a ``user.updated`` says changed when a second factor is added or removed.
MFA = ("mfa",)
DIGITS = 6
#: Steps accepted either side of now: one (30 s) for clocks that drift.
WINDOW = 1
#: Wrong codes per user before waits start (then 1 s, 2 s, 4 s ... up to the store's cap).
FREE_ATTEMPTS = 5
_SEAL_PURPOSE = "totp seeds"


class FactorState(msgspec.Struct, frozen=True, kw_only=True):
    """What the account page and the login step need to know about a user's factors."""

    totp: bool
    totp_pending: bool


class Enrolment(msgspec.Struct, frozen=True, kw_only=True):
    """A new TOTP seed, shown once: the base32 text and the ``otpauth://`` URI."""

    factor_id: str
    secret: str
    uri: str


class MfaThrottle:
    """Counts second-factor attempts per user on the login throttle's store."""

    def __init__(self, store: ThrottleStore, secret_key: str, now: Callable[[], float]) -> None:
        self._store, self._key, self._now = store, secret_key, now

    def _counter(self, user_id: str) -> str:
        return "m:" + secrets_.keyed_hash(self._key, "mfa-throttle", user_id)[:40]

    async def attempt(self, user_id: str) -> None:
        """Count one attempt, or raise ``MfaThrottled`` (not counted) during a wait."""
        wait = await self._store.acquire(
            [Limit(self._counter(user_id), FREE_ATTEMPTS)], self._now()
        )
        if wait > 0:
            raise MfaThrottled(math.ceil(wait))

    async def succeeded(self, user_id: str) -> None:
        await self._store.reset(self._counter(user_id))


def require_code_format(code: str, field: str = "code") -> str:
    code = code.strip().replace(" ", "")
    if not (len(code) == DIGITS and code.isascii() and code.isdigit()):
        # Not counted: a typo in the shape is not a guess.
        raise InvalidInput({field: [msg("code.format")]})
    return code


# --- reading -----------------------------------------------------------------------------


async def factor_state(services: Services, user_id: str) -> FactorState:
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(MfaFactor.kind, MfaFactor.confirmed_at).where(MfaFactor.user_id == user_id)
            )
        ).all()
    totp = [confirmed for kind, confirmed in rows if kind == "totp"]
    return FactorState(
        totp=any(c is not None for c in totp), totp_pending=any(c is None for c in totp)
    )


async def has_confirmed_factor(services: Services, user_id: str) -> bool:
    return (await factor_state(services, user_id)).totp


# --- enrolment ---------------------------------------------------------------------------


async def begin_totp(services: Services, user_id: str, account: str, issuer: str) -> Enrolment:
    """A fresh, unconfirmed TOTP seed (replacing an unconfirmed one). A confirmed factor
    is never replaced this way: disable it first (that needs the password)."""
    secret = pyotp.random_base32()  # 32 base32 characters: 160 bits, RFC 4226's advice
    factor_id, now = secrets_.new_id(), services.clock.now()
    sealed = crypto.seal(services.settings.secret_key, _SEAL_PURPOSE, factor_id, secret.encode())
    async with services.db.write() as session:
        await session.execute(
            delete(MfaFactor).where(
                MfaFactor.user_id == user_id,
                MfaFactor.kind == "totp",
                MfaFactor.confirmed_at.is_(None),
            )
        )
        # The (user, kind) unique index refuses a second TOTP factor: a confirmed one stays.
        exists = await session.scalar(
            select(MfaFactor.id).where(MfaFactor.user_id == user_id, MfaFactor.kind == "totp")
        )
        if exists is not None:
            raise InvalidInput({"": [msg("mfa.already_enrolled")]})
        session.add(
            MfaFactor(
                id=factor_id,
                user_id=user_id,
                kind="totp",
                secret=sealed,
                confirmed_at=None,
                last_step=None,
                created_at=now,
            )
        )
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )
    return Enrolment(factor_id=factor_id, secret=secret, uri=uri)


async def confirm_totp(
    services: Services,
    user_id: str,
    code: str,
    throttle: MfaThrottle,
    *,
    pool: PoolView | None = None,
) -> None:
    """Confirm the pending seed with a first code from the user's app. With ``pool``, the
    change is a ``user.updated`` (``mfa``) for its webhooks, in the same transaction."""
    code = require_code_format(code)
    factor = await _factor(services, user_id, confirmed=False)
    if factor is None:
        raise InvalidInput({"": [msg("mfa.no_pending")]})
    await _check_totp(services, factor, code, throttle, confirm=True, pool=pool)
    log.info("mfa: user %s enrolled TOTP", user_id)


async def disable_totp(
    services: Services, user_id: str, password: str, *, pool: PoolView | None = None
) -> None:
    """Remove the user's TOTP factor; the current password is required. With ``pool``, a
    ``user.updated`` (``mfa``) for its webhooks, in the same transaction."""
    if not password:
        raise InvalidInput({"password": [msg("form.required")]})
    async with services.db.read() as session:
        stored = await session.scalar(
            select(Credential.secret_hash).where(Credential.user_id == user_id)
        )
    if stored is None:
        await services.hashing.verify_dummy(password)
        raise InvalidInput({"password": [msg("account.password_incorrect")]})
    ok, _ = await services.hashing.verify(stored, password)
    if not ok:
        raise InvalidInput({"password": [msg("account.password_incorrect")]})
    async with services.db.write() as session:
        removed = await session.execute(
            delete(MfaFactor).where(MfaFactor.user_id == user_id, MfaFactor.kind == "totp")
        )
        if pool is not None and removed.rowcount:  # type: ignore[attr-defined]
            now = services.clock.now()
            await emit.user_updated(session, pool, user_id, now, source="account", changes=MFA)
    log.info("mfa: user %s disabled TOTP", user_id)


# --- verification ------------------------------------------------------------------------


async def verify_totp(services: Services, user_id: str, code: str, throttle: MfaThrottle) -> None:
    """Accept a code of the user's confirmed TOTP factor, once, or raise."""
    code = require_code_format(code)
    factor = await _factor(services, user_id, confirmed=True)
    if factor is None:
        await throttle.attempt(user_id)
        raise MfaCodeInvalid()
    await _check_totp(services, factor, code, throttle, confirm=False)


async def _factor(services: Services, user_id: str, *, confirmed: bool) -> MfaFactor | None:
    state = MfaFactor.confirmed_at.is_not(None) if confirmed else MfaFactor.confirmed_at.is_(None)
    async with services.db.read() as session:
        return await session.scalar(
            select(MfaFactor).where(MfaFactor.user_id == user_id, MfaFactor.kind == "totp", state)
        )


async def _check_totp(
    services: Services,
    factor: MfaFactor,
    code: str,
    throttle: MfaThrottle,
    *,
    confirm: bool,
    pool: PoolView | None = None,
) -> None:
    await throttle.attempt(factor.user_id)
    secret = _seed(services, factor)
    step = matching_step(secret, code, services.clock.now())
    if step is None:
        raise MfaCodeInvalid()
    values: dict[str, object] = {"last_step": step}
    if confirm:
        values["confirmed_at"] = services.clock.now()
    async with services.db.write() as session:
        moved = await session.execute(
            update(MfaFactor)
            .where(
                MfaFactor.id == factor.id,
                or_(MfaFactor.last_step.is_(None), MfaFactor.last_step < step),
            )
            .values(**values)
        )
        used = moved.rowcount == 1  # type: ignore[attr-defined]
        if used and confirm and pool is not None:
            now = services.clock.now()
            await emit.user_updated(
                session, pool, factor.user_id, now, source="account", changes=MFA
            )
    if not used:
        log.warning("mfa: user %s replayed a TOTP step", factor.user_id)
        raise MfaCodeReused()
    await throttle.succeeded(factor.user_id)


def _seed(services: Services, factor: MfaFactor) -> str:
    assert factor.secret is not None
    key = services.settings.secret_key
    return crypto.unseal(key, _SEAL_PURPOSE, factor.id, factor.secret).decode()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step within ``WINDOW`` whose code is ``code``, or None. Every candidate
    is compared in constant time, so timing tells nothing about which one (or none)."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = int(now.timestamp()) // PERIOD
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
            found = step
    return found
