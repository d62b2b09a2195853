"""Tokens out of a redeemed code: a signed ID token and a short-lived access token for the
userinfo endpoint.

Both are JWTs signed with the active key (``kid`` in the header). The access token is
typed ``at+jwt`` (RFC 9068) and addressed to our userinfo endpoint, so an ID token (typ
``JWT``, audience the client) is never accepted as an access token, nor the other way
round. Nothing is stored: the user's status, session and the code the token came from (not
revoked by a replay, ``codes.grant_live``) are re-checked on every use.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import msgspec
from joserfc import jwt
from joserfc.errors import JoseError

from widget_server.errors import InvalidGrant
from widget_server.models import Session
from widget_server.oidc.claims import Subject, load_subject, user_claims
from widget_server.oidc.clients import Client
from widget_server.oidc.codes import RedeemedCode, grant_live
from widget_server.oidc.keys import ALG, KeyRing
from widget_server.services import Services

ID_TOKEN_SECONDS = 600
ACCESS_TOKEN_SECONDS = 600
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """RFC 6749 §5.1 + OIDC Core §3.1.3.3."""

    access_token: str
    token_type: str
    expires_in: int
    id_token: str
    scope: str


def issuer(services: Services) -> str:
    return services.settings.public_url.rstrip("/")


def userinfo_audience(services: Services) -> str:
    return issuer(services) + "/oauth/userinfo"


async def tokens_for_code(
    services: Services, keys: KeyRing, client: Client, code: RedeemedCode
) -> TokenResponse:
    """Sign the tokens for a code the client just redeemed. Raises InvalidGrant when the
    user is no longer active, left the pool, or ended the session the code came from."""
    subject = await load_subject(services, code.user_id)
    if subject is None or subject.status != "active" or subject.pool_id != code.pool_id:
        raise InvalidGrant("the user can no longer sign in")
    if code.pool_id not in client.pool_ids:
        raise InvalidGrant("the app no longer accepts this pool")
    if code.session_id is not None and not await session_live(services, code.session_id):
        raise InvalidGrant("the session this code came from has ended")
    now = int(services.clock.now().timestamp())
    scopes = code.scope.split()
    mapping = (await services.pools.get(subject.pool_id)).claim_mapping
    id_claims = _id_claims(services, client, code, subject, scopes, now, mapping)
    access_claims = {
        "iss": issuer(services),
        "sub": subject.id,
        "aud": userinfo_audience(services),
        "client_id": client.id,
        "scope": code.scope,
        "pool": subject.pool_id,
        "iat": now,
        "exp": now + ACCESS_TOKEN_SECONDS,
        "jti": secrets.token_urlsafe(16),
        # The code it came from: a replay of that code revokes this token (codes.py).
        "grant": code.grant_id,
    } | ({"sid": code.session_id} if code.session_id else {})
    return TokenResponse(
        access_token=await sign(keys, access_claims, ACCESS_TOKEN_TYPE),
        token_type="Bearer",  # noqa: S106 - the token type name
        expires_in=ACCESS_TOKEN_SECONDS,
        id_token=await sign(keys, id_claims, "JWT"),
        scope=code.scope,
    )


def _id_claims(
    services: Services,
    client: Client,
    code: RedeemedCode,
    subject: Subject,
    scopes: list[str],
    now: int,
    mapping: dict[str, str],
) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": issuer(services),
        "aud": client.id,
        "iat": now,
        "exp": now + ID_TOKEN_SECONDS,
        "auth_time": int(code.auth_time.timestamp()),
        "amr": list(code.amr),
    }
    if code.nonce:
        claims["nonce"] = code.nonce
    if code.session_id:
        claims["sid"] = code.session_id
    return claims | user_claims(subject, scopes, mapping)


async def sign(keys: KeyRing, claims: dict[str, Any], typ: str) -> str:
    active = await keys.active()
    return jwt.encode({"alg": ALG, "kid": active.kid, "typ": typ}, claims, active.key)


async def session_live(services: Services, session_id: str) -> bool:
    async with services.db.read() as db_session:
        row = await db_session.get(Session, session_id)
    now: datetime = services.clock.now()
    return row is not None and row.revoked_at is None and row.expires_at > now


async def verify_access_token(
    services: Services, keys: KeyRing, token: str
) -> dict[str, Any] | None:
    """The claims of a valid access token of ours, or None (bad signature, wrong type,
    audience or issuer, expired)."""
    if len(token) > 4096:
        return None
    try:
        decoded = jwt.decode(token, await keys.key_set(), algorithms=[ALG])
    except (JoseError, ValueError):
        return None
    claims: dict[str, Any] = dict(decoded.claims)
    now = int(services.clock.now().timestamp())
    if (
        decoded.header.get("typ") != ACCESS_TOKEN_TYPE
        or claims.get("iss") != issuer(services)
        or claims.get("aud") != userinfo_audience(services)
        or not isinstance(claims.get("exp"), int)
        or claims["exp"] <= now
        or not isinstance(claims.get("sub"), str)
    ):
        return None
    return claims


async def userinfo_claims(services: Services, keys: KeyRing, token: str) -> dict[str, Any] | None:
    """The userinfo answer for an access token, or None if the token or its user is no
    longer good."""
    claims = await verify_access_token(services, keys, token)
    if claims is None:
        return None
    subject = await load_subject(services, claims["sub"])
    if subject is None or subject.status != "active":
        return None
    sid = claims.get("sid")
    if isinstance(sid, str) and not await session_live(services, sid):
        return None
    grant = claims.get("grant")
    if not isinstance(grant, str) or not await grant_live(services, grant):
        return None
    pool = await services.pools.get(subject.pool_id)
    return user_claims(subject, str(claims.get("scope", "")).split(), pool.claim_mapping)
