"""One-time authorization codes: issued after a login, exchanged once at the token endpoint.

A code is 256 random bits; only its keyed hash is stored, so a database dump yields no
usable code. It lives 60 s. Redemption is a conditional ``UPDATE … WHERE used_at IS NULL``
whose row count decides the winner, so two concurrent exchanges of one code yield exactly
one token (PostgreSQL re-checks the condition after the first writer commits; SQLite
serialises writers).

A code is bound to: the app (client id), the redirect URI it was sent to (exactly; NULL for
codes posted to an embedding page), and the PKCE challenge when there was one (S256 only;
``plain`` would send the verifier's equivalent through the browser).

A used code presented again means it leaked: the exchange is refused and the code is
marked ``revoked_at`` (RFC 6749 §4.1.2, OAuth 2.0 Security BCP RFC 9700 §4.5), which ends
the access tokens issued from it (their ``grant`` claim names the code; ``grant_live``).
The ID token is a signed statement already delivered and cannot be called back; it says
only who signed in, and lives 10 minutes.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.errors import InvalidGrant, InvalidRequest
from widget_server.models import App, AuthorizationCode
from widget_server.oidc.scopes import allowed_for, scope_string
from widget_server.secrets_ import hmac_equal, keyed_hash
from widget_server.services import Services

CODE_TTL_SECONDS = 60
_PURPOSE = "oauth-code"
#: RFC 7636 §4.1/4.2: 43-128 characters of the unreserved set.
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


@dataclass(frozen=True, kw_only=True)
class RedeemedCode:
    """What the token endpoint needs from a code it just consumed."""

    app_id: str
    user_id: str
    pool_id: str
    session_id: str | None
    scope: str
    nonce: str | None
    amr: tuple[str, ...]
    auth_time: datetime
    #: The code's stored id (its keyed hash): the tokens' ``grant`` claim.
    grant_id: str


def code_hash(services: Services, code: str) -> str:
    return keyed_hash(services.settings.secret_key, _PURPOSE, code)


def check_challenge(code_challenge: str | None, code_challenge_method: str | None) -> None:
    """Refuse a malformed PKCE challenge or any method but S256 (``plain`` included)."""
    if code_challenge is None:
        if code_challenge_method is not None:
            raise InvalidRequest("code_challenge_method without code_challenge")
        return
    if code_challenge_method != "S256":
        raise InvalidRequest("code_challenge_method must be S256")
    if not _PKCE_VALUE.fullmatch(code_challenge):
        raise InvalidRequest("code_challenge is malformed")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def issue_code(
    services: Services,
    db_session: AsyncSession,
    *,
    app_id: str,
    user_id: str,
    pool_id: str,
    session_id: str | None,
    redirect_uri: str | None,
    scope: str,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
    amr: list[str],
    auth_time: datetime,
) -> str:
    """Store a new code in the caller's transaction and return it (the only clear copy).

    A code for an embedding page (``redirect_uri`` None) carries every scope the operator
    allowed the app, whatever ``scope`` says: there is no consent screen inside a
    partner's iframe, and registering the app for the pool is the grant. Raises
    ``InvalidRequest`` for a malformed or non-S256 PKCE challenge.
    """
    check_challenge(code_challenge, code_challenge_method)
    if redirect_uri is None:
        app_scopes = await db_session.scalar(select(App.scopes).where(App.id == app_id))
        scope = scope_string(allowed_for(app_scopes or ()))
    code = secrets.token_urlsafe(32)
    now = services.clock.now()
    db_session.add(
        AuthorizationCode(
            code_hash=code_hash(services, code),
            app_id=app_id,
            user_id=user_id,
            pool_id=pool_id,
            session_id=session_id,
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method if code_challenge else None,
            scope=scope,
            nonce=nonce,
            amr=list(amr),
            auth_time=auth_time,
            expires_at=now + timedelta(seconds=CODE_TTL_SECONDS),
            used_at=None,
            created_at=now,
        )
    )
    await db_session.flush()
    return code


async def redeem_code(
    services: Services,
    *,
    code: str,
    client_id: str,
    redirect_uri: str | None,
    code_verifier: str | None,
    public_client: bool,
) -> RedeemedCode:
    """Consume ``code`` for the (already authenticated) ``client_id``, or raise InvalidGrant.

    Every check runs before the code is marked used, so a wrong verifier or redirect URI
    from someone who intercepted the code does not burn it for its rightful owner.
    """
    key = code_hash(services, code)
    now = services.clock.now()
    if await _revoke_if_replayed(services, key, now):
        raise InvalidGrant("code is unknown, used or expired")
    async with services.db.write() as session:
        row = await session.get(AuthorizationCode, key)
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise InvalidGrant("code is unknown, used or expired")
        _check_binding(row, client_id, redirect_uri, code_verifier, public_client)
        claimed = await session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == key)
            .where(AuthorizationCode.used_at.is_(None))
            .where(AuthorizationCode.expires_at > now)
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidGrant("code is unknown, used or expired")
        return RedeemedCode(
            app_id=row.app_id,
            user_id=row.user_id,
            pool_id=row.pool_id,
            session_id=row.session_id,
            scope=row.scope,
            nonce=row.nonce,
            amr=tuple(row.amr or ()),
            auth_time=row.auth_time,
            grant_id=key,
        )


async def _revoke_if_replayed(services: Services, key: str, now: datetime) -> bool:
    """Whether ``key`` names a code already used, which is then revoked (in a transaction
    of its own, so the refusal that follows does not roll the revocation back)."""
    async with services.db.write() as session:
        revoked = await session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == key)
            .where(AuthorizationCode.used_at.is_not(None))
            .values(revoked_at=func.coalesce(AuthorizationCode.revoked_at, now))
            .execution_options(synchronize_session=False)
        )
        return bool(revoked.rowcount)  # type: ignore[attr-defined]


async def grant_live(services: Services, grant_id: str) -> bool:
    """Whether the code a token was issued from still stands (not revoked by a replay).
    Rows outlive their tokens (kept a day past expiry; tokens live 10 minutes), so a
    missing row means a forged or foreign claim."""
    async with services.db.read() as session:
        row = (
            await session.execute(
                select(AuthorizationCode.revoked_at).where(
                    AuthorizationCode.code_hash == grant_id
                )
            )
        ).first()
    return row is not None and row.revoked_at is None


def _check_binding(
    row: AuthorizationCode,
    client_id: str,
    redirect_uri: str | None,
    code_verifier: str | None,
    public_client: bool,
) -> None:
    if not hmac_equal(row.app_id, client_id):
        raise InvalidGrant("code was issued to another client")
    # Exact string equality (RFC 6749 §4.1.3); a code sent nowhere accepts no redirect_uri.
    if (row.redirect_uri or None) != (redirect_uri or None):
        raise InvalidGrant("redirect_uri does not match the authorization request")
    if row.code_challenge is None:
        if public_client:
            raise InvalidGrant("public clients must use PKCE")
        if code_verifier is not None:
            # RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a downgrade.
            raise InvalidGrant("code_verifier sent but no code_challenge was")
        return
    if code_verifier is None or not _PKCE_VALUE.fullmatch(code_verifier):
        raise InvalidGrant("code_verifier missing or malformed")
    if not hmac_equal(s256(code_verifier), row.code_challenge):
        raise InvalidGrant("code_verifier does not match code_challenge")


async def find_code(services: Services, code: str) -> AuthorizationCode | None:
    """The stored row of ``code`` (tests and diagnostics)."""
    async with services.db.read() as session:
        result = await session.execute(
            select(AuthorizationCode).where(
                AuthorizationCode.code_hash == code_hash(services, code)
            )
        )
        return result.scalar_one_or_none()
