"""Authorization-code replay (RFC 6749 §4.1.2, RFC 9700 §4.5): the second exchange is
refused *and* the access token the first one issued stops working; other codes' tokens
are untouched."""

from __future__ import annotations

import httpx

from tests.conftest import Harness, rows
from tests.oidc.conftest import EndUser, MakeApp, MakeUser
from tests.oidc.test_token import assert_error, embedded_code, token_request
from widget_server.models import AuthorizationCode


async def _userinfo(h: Harness, token: str) -> httpx.Response:
    return await h.client.get("/oauth/userinfo", headers={"authorization": f"Bearer {token}"})


async def test_a_replayed_code_revokes_the_tokens_issued_from_it(
    harness: Harness, make_app: MakeApp, make_user: MakeUser
) -> None:
    app = await make_app()
    user: EndUser = await make_user()
    assert app.secret is not None
    auth = ("shop", app.secret)
    code, other_code = (
        await embedded_code(harness, app, user),
        await embedded_code(harness, app, user),
    )
    first = (
        await token_request(harness, {"grant_type": "authorization_code", "code": code}, auth=auth)
    ).json()
    other = (
        await token_request(
            harness, {"grant_type": "authorization_code", "code": other_code}, auth=auth
        )
    ).json()
    assert (await _userinfo(harness, first["access_token"])).status_code == 200

    replay = await token_request(
        harness, {"grant_type": "authorization_code", "code": code}, auth=auth
    )
    assert_error(replay, 400, "invalid_grant")

    refused = await _userinfo(harness, first["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Only that code's tokens: the other exchange's token still works.
    assert (await _userinfo(harness, other["access_token"])).status_code == 200
    revoked = [row for row in await rows(harness, AuthorizationCode) if row.revoked_at]
    assert len(revoked) == 1


async def test_only_an_authenticated_client_replaying_revokes(
    harness: Harness, make_app: MakeApp, make_user: MakeUser
) -> None:
    """A request whose client authentication fails never reaches the code (nobody can
    revoke a partner's tokens with a guessed secret); the client's own replay does."""
    app = await make_app()
    user: EndUser = await make_user()
    assert app.secret is not None
    code = await embedded_code(harness, app, user)
    first = (
        await token_request(
            harness, {"grant_type": "authorization_code", "code": code}, auth=("shop", app.secret)
        )
    ).json()
    await token_request(
        harness, {"grant_type": "authorization_code", "code": code}, auth=("shop", "wrong")
    )
    assert (await _userinfo(harness, first["access_token"])).status_code == 200
    assert_error(
        await token_request(
            harness,
            {"grant_type": "authorization_code", "code": code},
            auth=("shop", app.secret),
        ),
        400,
        "invalid_grant",
    )
    assert (await _userinfo(harness, first["access_token"])).status_code == 401


async def test_a_wrong_first_try_burns_nothing(
    harness: Harness, make_app: MakeApp, make_user: MakeUser
) -> None:
    """A code never exchanged is no replay: a refused attempt revokes nothing."""
    app = await make_app()
    user: EndUser = await make_user()
    assert app.secret is not None
    code = await embedded_code(harness, app, user)
    grant = {"grant_type": "authorization_code", "code": code}
    await token_request(
        harness, grant | {"redirect_uri": "https://x.example/cb"}, auth=("shop", app.secret)
    )
    answer = await token_request(harness, grant, auth=("shop", app.secret))
    assert answer.status_code == 200
    assert (await _userinfo(harness, answer.json()["access_token"])).status_code == 200
