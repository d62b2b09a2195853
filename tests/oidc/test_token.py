"""The token endpoint, discovery, JWKS, keys and userinfo, with authlib as the client for
the happy paths and raw HTTP for the refusals (RFC 6749 §5.2 bodies, statuses, headers)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import Harness, rows
from tests.oidc.conftest import (
    ISSUER,
    EndUser,
    MakeApp,
    MakeRp,
    MakeUser,
    PartnerApp,
)
from widget_server.auth.sessions import revoke_user_sessions, start_session
from widget_server.models import SigningKey, User
from widget_server.oidc.codes import issue_code
from widget_server.oidc.keys import PUBLISH_AHEAD, KeyRing, decrypt_private, signing_key


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def embedded_code(h: Harness, app: PartnerApp, user: EndUser, **overrides: Any) -> str:
    """A code as the embedded login posts it to the partner page (no redirect_uri)."""
    values: dict[str, Any] = {
        "app_id": app.id,
        "user_id": user.id,
        "pool_id": user.pool_id,
        "session_id": None,
        "redirect_uri": None,
        "scope": "openid email phone roles groups",
        "nonce": None,
        "code_challenge": None,
        "code_challenge_method": None,
        "amr": ["pwd"],
        "auth_time": h.clock.now(),
    } | overrides
    async with h.web.services.db.write() as session:
        return await issue_code(h.web.services, session, **values)


@pytest.fixture
async def party(make_app: MakeApp, make_user: MakeUser) -> tuple[PartnerApp, EndUser]:
    app = await make_app()
    user = await make_user(
        phone="+41446681800",
        phone_verified=False,
        metadata={"roles": ["buyer"], "groups": "emea"},
    )
    return app, user


async def test_embedded_code_exchanged_by_authlib_gives_a_verified_id_token(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_rp: MakeRp
) -> None:
    app, user = party
    rp = make_rp(app)
    code = await embedded_code(harness, app, user)
    token = await rp.fetch_access_token(code=code)
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "openid email phone profile roles groups"  # the app's scopes
    claims = await rp.parse_id_token(token, nonce=None)
    assert claims["sub"] == user.id
    assert claims["aud"] == "shop"
    assert claims["pool"] == "partner-1"
    assert claims["email"] == "ada@example.com" and claims["email_verified"] is True
    assert "phone_number" not in claims  # unverified addresses are never released
    assert claims["roles"] == ["buyer"]
    assert claims["groups"] == ["emea"]
    assert "nonce" not in claims
    userinfo = await rp.userinfo(token=token)
    assert userinfo["sub"] == user.id and userinfo["email"] == "ada@example.com"


async def test_client_secret_post_and_public_clients_with_pkce(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, make_rp: MakeRp
) -> None:
    confidential, user = await make_app(), await make_user()
    post_rp = make_rp(confidential, auth_method="client_secret_post")
    code = await embedded_code(harness, confidential, user)
    claims = await post_rp.parse_id_token(await post_rp.fetch_access_token(code=code), None)
    assert claims["sub"] == user.id

    public = await make_app(id="spa", kind="public")
    verifier, challenge = pkce()
    code = await embedded_code(
        harness, public, user, code_challenge=challenge, code_challenge_method="S256"
    )
    public_rp = make_rp(public, auth_method="none")
    token = await public_rp.fetch_access_token(code=code, code_verifier=verifier)
    assert (await public_rp.parse_id_token(token, None))["aud"] == "spa"


async def token_request(
    h: Harness, data: dict[str, str] | str, auth: tuple[str, str] | None = None, **kw: Any
) -> httpx.Response:
    headers = kw.pop("headers", {})
    if isinstance(data, str):
        headers.setdefault("content-type", "application/x-www-form-urlencoded")
        return await h.client.post("/oauth/token", content=data, headers=headers, auth=auth)
    return await h.client.post("/oauth/token", data=data, headers=headers, auth=auth)


def assert_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


async def test_client_authentication_failures(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_app: MakeApp
) -> None:
    app, user = party
    assert app.secret is not None
    code = await embedded_code(harness, app, user)
    grant = {"grant_type": "authorization_code", "code": code}

    wrong_basic = await token_request(harness, grant, auth=("shop", "nope"))
    assert_error(wrong_basic, 401, "invalid_client")
    assert wrong_basic.headers["www-authenticate"].startswith("Basic")
    wrong_post = await token_request(
        harness, grant | {"client_id": "shop", "client_secret": "nope"}
    )
    assert_error(wrong_post, 401, "invalid_client")
    assert "www-authenticate" not in wrong_post.headers
    assert_error(await token_request(harness, grant), 401, "invalid_client")
    assert_error(await token_request(harness, grant | {"client_id": "shop"}), 401, "invalid_client")
    unknown = await token_request(harness, grant, auth=("ghost", app.secret))
    assert_error(unknown, 401, "invalid_client")
    both = await token_request(
        harness, grant | {"client_secret": app.secret}, auth=("shop", app.secret)
    )
    assert_error(both, 400, "invalid_request")
    mismatch = await token_request(
        harness, grant | {"client_id": "other"}, auth=("shop", app.secret)
    )
    assert_error(mismatch, 401, "invalid_client")
    garbage = await token_request(harness, grant, headers={"authorization": "Basic !!!"})
    assert_error(garbage, 401, "invalid_client")

    public = await make_app(id="spa", kind="public")
    with_secret = await token_request(harness, grant | {"client_id": "spa", "client_secret": "x"})
    assert_error(with_secret, 401, "invalid_client")
    assert public.secret is None
    # None of these burned the code.
    ok = await token_request(harness, grant, auth=("shop", app.secret))
    assert ok.status_code == 200, ok.text


async def test_grant_errors(harness: Harness, party: tuple[PartnerApp, EndUser]) -> None:
    app, user = party
    assert app.secret is not None
    auth = ("shop", app.secret)
    code = await embedded_code(harness, app, user)
    grant = {"grant_type": "authorization_code", "code": code}
    assert_error(
        await token_request(harness, grant | {"grant_type": "password"}, auth=auth),
        400,
        "unsupported_grant_type",
    )
    assert_error(
        await token_request(harness, {"grant_type": "authorization_code"}, auth=auth),
        400,
        "invalid_request",
    )
    assert_error(
        await token_request(
            harness, f"grant_type=authorization_code&code={code}&code=x", auth=auth
        ),
        400,
        "invalid_request",
    )
    assert_error(
        await token_request(
            harness, grant, auth=auth, headers={"content-type": "application/json"}
        ),
        400,
        "invalid_request",
    )
    assert_error(
        await token_request(harness, grant | {"code": "nope"}, auth=auth), 400, "invalid_grant"
    )
    first = await token_request(harness, grant, auth=auth)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    assert_error(await token_request(harness, grant, auth=auth), 400, "invalid_grant")


async def test_concurrent_exchanges_over_http_yield_one_token(
    harness: Harness, party: tuple[PartnerApp, EndUser]
) -> None:
    app, user = party
    assert app.secret is not None
    code = await embedded_code(harness, app, user)
    grant = {"grant_type": "authorization_code", "code": code}
    answers = await asyncio.gather(
        *(token_request(harness, grant, auth=("shop", app.secret)) for _ in range(6))
    )
    assert sorted(r.status_code for r in answers) == [200] + [400] * 5


async def test_user_deactivated_or_session_ended_before_the_exchange(
    harness: Harness, party: tuple[PartnerApp, EndUser]
) -> None:
    app, user = party
    assert app.secret is not None
    pool = await harness.web.services.pools.get("partner-1")
    async with harness.web.services.db.write() as session:
        _, session_id = await start_session(
            harness.web.services,
            session,
            user_id=user.id,
            pool=pool,
            app_id="shop",
            amr=["pwd"],
            ip=None,
            user_agent=None,
        )
    code = await embedded_code(harness, app, user, session_id=session_id)
    async with harness.web.services.db.write() as session:
        await revoke_user_sessions(session, user.id, harness.clock.now())
    grant = {"grant_type": "authorization_code", "code": code}
    assert_error(
        await token_request(harness, grant, auth=("shop", app.secret)), 400, "invalid_grant"
    )

    code = await embedded_code(harness, app, user)
    async with harness.web.services.db.write() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.status = "inactive"
    grant = {"grant_type": "authorization_code", "code": code}
    assert_error(
        await token_request(harness, grant, auth=("shop", app.secret)), 400, "invalid_grant"
    )


async def test_discovery_document(harness: Harness) -> None:
    response = await harness.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    assert "max-age" in response.headers["cache-control"]
    doc = response.json()
    assert doc["issuer"] == ISSUER
    assert doc["authorization_endpoint"] == ISSUER + "/oauth/authorize"
    assert doc["token_endpoint"] == ISSUER + "/oauth/token"
    assert doc["jwks_uri"] == ISSUER + "/.well-known/jwks.json"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["ES256"]
    assert {"email", "email_verified", "roles", "groups", "pool", "sub"} <= set(
        doc["claims_supported"]
    )
    assert set(doc["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }


async def test_jwks_publishes_public_keys_only(harness: Harness) -> None:
    response = await harness.client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    (key,) = response.json()["keys"]
    assert key["kty"] == "EC" and key["alg"] == "ES256" and key["use"] == "sig"
    assert "d" not in key
    (row,) = await rows(harness, SigningKey)
    assert "PRIVATE KEY" not in row.private_key
    pem = decrypt_private(harness.settings.secret_key, row.kid, row.private_key)
    assert b"PRIVATE KEY" in pem
    with pytest.raises(Exception):  # noqa: B017 - any failure: the wrong key cannot decrypt
        decrypt_private("another-secret", row.kid, row.private_key)
    with pytest.raises(Exception):  # noqa: B017 - nor can the ciphertext move to another kid
        decrypt_private(harness.settings.secret_key, "other-kid", row.private_key)


async def test_first_key_is_created_once_under_concurrency(harness: Harness) -> None:
    rings = [KeyRing(harness.web.services) for _ in range(6)]
    actives = await asyncio.gather(*(ring.active() for ring in rings))
    assert len({a.kid for a in actives}) == 1
    assert len(await rows(harness, SigningKey)) == 1


async def test_rotation_keeps_old_tokens_verifiable_until_retired(
    harness: Harness, party: tuple[PartnerApp, EndUser]
) -> None:
    app, user = party
    assert app.secret is not None
    ring: KeyRing = harness.app.state.oidc_keys

    async def id_token() -> str:
        code = await embedded_code(harness, app, user)
        grant = {"grant_type": "authorization_code", "code": code}
        response = await token_request(harness, grant, auth=("shop", app.secret))
        return str(response.json()["id_token"])

    old = await id_token()
    old_kid = jwt.decode(old, KeySet.import_key_set({"keys": await jwks(harness)})).header["kid"]
    harness.clock.advance(1)
    new_kid = await ring.rotate()
    assert new_kid != old_kid
    # Published at once, but the old key signs until every cached JWKS has the new one.
    assert [k["kid"] for k in await jwks(harness)] == [new_kid, old_kid]
    assert kid_of(await id_token()) == old_kid
    harness.clock.advance(PUBLISH_AHEAD.total_seconds() - 1)
    assert kid_of(await id_token()) == old_kid
    harness.clock.advance(1)
    new = await id_token()
    published = KeySet.import_key_set({"keys": await jwks(harness)})
    assert jwt.decode(new, published).header["kid"] == new_kid
    assert jwt.decode(old, published).claims["sub"] == user.id
    assert await ring.retire(new_kid, harness.clock.now()) is False  # the newest key stays
    assert await ring.retire(old_kid, harness.clock.now()) is True
    assert [k["kid"] for k in await jwks(harness)] == [new_kid]


async def test_retiring_the_signing_key_hands_over_to_the_new_one_at_once(
    harness: Harness, party: tuple[PartnerApp, EndUser]
) -> None:
    """A leaked key: rotate, retire the old one, and the new one signs right away."""
    app, user = party
    assert app.secret is not None
    ring: KeyRing = harness.app.state.oidc_keys
    old_kid = (await ring.active()).kid
    harness.clock.advance(1)
    new_kid = await ring.rotate()
    assert (await ring.active()).kid == old_kid
    assert await ring.retire(old_kid, harness.clock.now()) is True
    code = await embedded_code(harness, app, user)
    grant = {"grant_type": "authorization_code", "code": code}
    response = await token_request(harness, grant, auth=("shop", app.secret))
    assert kid_of(str(response.json()["id_token"])) == new_kid
    assert [k["kid"] for k in await jwks(harness)] == [new_kid]


def kid_of(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    return str(header["kid"])


async def jwks(h: Harness) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = (await h.client.get("/.well-known/jwks.json")).json()["keys"]
    return keys


async def test_userinfo_refuses_id_tokens_and_bad_tokens(
    harness: Harness, party: tuple[PartnerApp, EndUser]
) -> None:
    app, user = party
    assert app.secret is not None
    code = await embedded_code(harness, app, user)
    grant = {"grant_type": "authorization_code", "code": code}
    answer = (await token_request(harness, grant, auth=("shop", app.secret))).json()

    async def userinfo(token: str) -> httpx.Response:
        return await harness.client.get(
            "/oauth/userinfo", headers={"authorization": f"Bearer {token}"}
        )

    assert (await userinfo(answer["access_token"])).json()["sub"] == user.id
    for bad in (answer["id_token"], answer["access_token"][:-4] + "AAAA", "x"):
        refused = await userinfo(bad)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert (await harness.client.get("/oauth/userinfo")).status_code == 401
    harness.clock.advance(601)
    assert (await userinfo(answer["access_token"])).status_code == 401


def test_the_signing_key_is_the_newest_one_published_long_enough() -> None:
    t0 = datetime(2030, 1, 1, tzinfo=UTC)

    def key(kid: str, minutes: int) -> SigningKey:
        return SigningKey(kid=kid, created_at=t0 + timedelta(minutes=minutes))

    ahead = PUBLISH_AHEAD
    old, new, newer = key("old", 0), key("new", 100), key("newer", 102)
    # A fresh install: its one key signs at once.
    assert signing_key([old], t0) == (old, None)
    # A rotation: the old key signs until the new one has been published long enough.
    now = new.created_at + timedelta(seconds=1)
    assert signing_key([new, old], now) == (old, new.created_at + ahead)
    assert signing_key([new, old], new.created_at + ahead) == (new, None)
    # Two rotations in a row: each takes over in turn.
    assert signing_key([newer, new, old], now) == (old, new.created_at + ahead)
    assert signing_key([newer, new, old], new.created_at + ahead) == (new, newer.created_at + ahead)
    # The old key retired at once (it leaked): the young keys sign, the oldest first.
    assert signing_key([newer, new], now) == (new, newer.created_at + ahead)
