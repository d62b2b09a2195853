"""Authorization codes: single use (also under concurrency), 60 s, bound to the client, the
exact redirect URI and the PKCE verifier (S256 only); only a keyed hash is stored."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from typing import Any

import pytest

from tests.conftest import Harness, rows
from tests.oidc.conftest import EndUser, MakeApp, MakeUser, PartnerApp
from widget_server.errors import InvalidGrant, InvalidRequest
from widget_server.models import AuthorizationCode
from widget_server.oidc.codes import CODE_TTL_SECONDS, RedeemedCode, issue_code, redeem_code

CALLBACK = "http://127.0.0.1:8001/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def issue(h: Harness, app: PartnerApp, user: EndUser, **overrides: Any) -> str:
    values: dict[str, Any] = {
        "app_id": app.id,
        "user_id": user.id,
        "pool_id": user.pool_id,
        "session_id": None,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "nonce": "n-1",
        "code_challenge": None,
        "code_challenge_method": None,
        "amr": ["pwd"],
        "auth_time": h.clock.now(),
    } | overrides
    async with h.web.services.db.write() as session:
        return await issue_code(h.web.services, session, **values)


async def redeem(h: Harness, code: str, **overrides: Any) -> RedeemedCode:
    values: dict[str, Any] = {
        "client_id": "shop",
        "redirect_uri": CALLBACK,
        "code_verifier": None,
        "public_client": False,
    } | overrides
    return await redeem_code(h.web.services, code=code, **values)


@pytest.fixture
async def parties(make_app: MakeApp, make_user: MakeUser) -> tuple[PartnerApp, EndUser]:
    return await make_app(), await make_user()


async def test_a_code_is_redeemed_once_and_only_its_hash_is_stored(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    code = await issue(harness, app, user)
    assert len(base64.urlsafe_b64decode(code + "==")) >= 16  # 128+ bits
    (row,) = await rows(harness, AuthorizationCode)
    assert code not in (row.code_hash, row.app_id)
    assert (row.expires_at - row.created_at).total_seconds() == CODE_TTL_SECONDS
    redeemed = await redeem(harness, code)
    assert (redeemed.user_id, redeemed.pool_id, redeemed.nonce) == (user.id, "partner-1", "n-1")
    assert redeemed.scope == "openid email"
    assert redeemed.amr == ("pwd",)
    with pytest.raises(InvalidGrant):
        await redeem(harness, code)


async def test_concurrent_double_exchange_yields_exactly_one(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    for _ in range(3):
        code = await issue(harness, app, user)
        results = await asyncio.gather(
            *(redeem(harness, code) for _ in range(8)), return_exceptions=True
        )
        won = [r for r in results if isinstance(r, RedeemedCode)]
        lost = [r for r in results if isinstance(r, InvalidGrant)]
        assert (len(won), len(lost)) == (1, 7), results


async def test_a_code_expires_after_60_seconds(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    fresh, stale = await issue(harness, app, user), await issue(harness, app, user)
    harness.clock.advance(CODE_TTL_SECONDS - 1)
    assert (await redeem(harness, fresh)).user_id == user.id
    harness.clock.advance(1)
    with pytest.raises(InvalidGrant):
        await redeem(harness, stale)


async def test_unknown_code(harness: Harness, parties: tuple[PartnerApp, EndUser]) -> None:
    with pytest.raises(InvalidGrant):
        await redeem(harness, secrets.token_urlsafe(32))


async def test_code_is_bound_to_its_client_and_a_wrong_one_does_not_burn_it(
    harness: Harness, parties: tuple[PartnerApp, EndUser], make_app: MakeApp
) -> None:
    app, user = parties
    await make_app(id="other")
    code = await issue(harness, app, user)
    with pytest.raises(InvalidGrant):
        await redeem(harness, code, client_id="other")
    assert (await redeem(harness, code)).user_id == user.id


@pytest.mark.parametrize(
    "sent",
    [
        None,
        "http://127.0.0.1:8001/callback/",
        "http://127.0.0.1:8001/Callback",
        "http://127.0.0.1:8001/callback?x=1",
        "http://127.0.0.1:8001/callback#",
        "http://localhost:8001/callback",
        "https://127.0.0.1:8001/callback",
        "http://127.0.0.1:8002/callback",
        "http://127.0.0.1:8001/%63allback",
    ],
)
async def test_redirect_uri_must_equal_the_one_in_the_code(
    harness: Harness, parties: tuple[PartnerApp, EndUser], sent: str | None
) -> None:
    app, user = parties
    code = await issue(harness, app, user)
    with pytest.raises(InvalidGrant):
        await redeem(harness, code, redirect_uri=sent)
    assert (await redeem(harness, code)).user_id == user.id


async def test_embedded_code_has_no_redirect_uri_and_the_apps_scopes(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    code = await issue(harness, app, user, redirect_uri=None, scope="openid")
    with pytest.raises(InvalidGrant):
        await redeem(harness, code, redirect_uri=CALLBACK)
    redeemed = await redeem(harness, code, redirect_uri=None)
    assert redeemed.user_id == user.id
    assert redeemed.scope == "openid email phone profile roles groups"


async def test_pkce_verifier_is_checked_before_the_code_is_used(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    verifier, challenge = pkce()
    code = await issue(harness, app, user, code_challenge=challenge, code_challenge_method="S256")
    other_verifier, _ = pkce()
    for wrong in (None, other_verifier, challenge, "short", verifier + "x"):
        with pytest.raises(InvalidGrant):
            await redeem(harness, code, code_verifier=wrong)
    assert (await redeem(harness, code, code_verifier=verifier)).user_id == user.id


@pytest.mark.parametrize(
    ("challenge", "method"),
    [
        ("x" * 43, "plain"),
        ("x" * 43, None),
        ("x" * 42, "S256"),
        ("x" * 129, "S256"),
        ("a b" * 20, "S256"),
        (None, "S256"),
    ],
)
async def test_plain_or_malformed_challenges_are_refused_at_issue(
    harness: Harness, parties: tuple[PartnerApp, EndUser], challenge: str | None, method: str | None
) -> None:
    app, user = parties
    with pytest.raises(InvalidRequest):
        await issue(harness, app, user, code_challenge=challenge, code_challenge_method=method)
    assert await rows(harness, AuthorizationCode) == []


async def test_public_clients_need_pkce_and_verifiers_need_challenges(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    code = await issue(harness, app, user)
    with pytest.raises(InvalidGrant):
        await redeem(harness, code, public_client=True)
    verifier, _ = pkce()
    with pytest.raises(InvalidGrant):  # a verifier for a code issued without a challenge
        await redeem(harness, code, code_verifier=verifier)
    assert (await redeem(harness, code)).user_id == user.id


async def test_expired_codes_are_purged_after_a_day(
    harness: Harness, parties: tuple[PartnerApp, EndUser]
) -> None:
    app, user = parties
    await issue(harness, app, user)
    harness.clock.advance(CODE_TTL_SECONDS + 86400 - 1)
    await harness.outbox.purge()
    assert len(await rows(harness, AuthorizationCode)) == 1
    harness.clock.advance(2)
    await harness.outbox.purge()
    assert await rows(harness, AuthorizationCode) == []
