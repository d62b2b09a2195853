"""The redirect flow, driven by authlib as the partner's OpenID Connect client: the
authorization URL with PKCE and nonce, the login hand-off, consent, the code in the
redirect, the exchange, and the ID token validated against discovery + JWKS. Plus every
way the endpoint must refuse: open-redirect bypasses never redirect; other errors go back
to the client with ``state`` and ``iss``."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import Harness, rows
from tests.oidc.conftest import (
    ISSUER,
    PARTNER_CALLBACK,
    EndUser,
    LogIn,
    MakeApp,
    MakeRp,
    MakeUser,
    PartnerApp,
)
from widget_server.demo.relying_party import RelyingParty
from widget_server.models import App, AuthorizationCode, Consent, Flow, Session
from widget_server.oidc.consents import list_grants, revoke_grant


class Browser:
    """The user's browser on the widget server (the harness client, with its cookies)."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    async def get(self, url: str) -> httpx.Response:
        parts = urlsplit(url)
        return await self.h.client.get(parts.path + ("?" + parts.query if parts.query else ""))

    async def consent(self, page: httpx.Response, decision: str = "allow") -> httpx.Response:
        fields = dict(re.findall(r'name="(flow_id|csrf_token)" value="([^"]+)"', page.text))
        return await self.h.client.post("/oauth/consent", data=fields | {"decision": decision})


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def start(rp: RelyingParty, **kwargs: Any) -> dict[str, Any]:
    return dict(await rp.create_authorization_url(redirect_uri=PARTNER_CALLBACK, **kwargs))


async def finish(rp: RelyingParty, started: dict[str, Any], location: str) -> dict[str, Any]:
    """The partner's callback: check state, exchange the code, validate the ID token."""
    answer = query(location)
    assert answer["state"] == started["state"]
    assert answer["iss"] == ISSUER
    token = await rp.fetch_access_token(
        redirect_uri=PARTNER_CALLBACK,
        code=answer["code"],
        state=started["state"],
        code_verifier=started["code_verifier"],
    )
    return dict(await rp.parse_id_token(token, nonce=started["nonce"]))


@pytest.fixture
async def party(
    make_app: MakeApp, make_user: MakeUser, log_in: LogIn
) -> tuple[PartnerApp, EndUser]:
    app = await make_app()
    user = await make_user(
        email="ada@example.com",
        phone="+41446681800",
        metadata={"roles": ["buyer", "admin"], "groups": ["emea"], "other": "x"},
        payload={"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"},
    )
    await log_in(user)
    return app, user


async def test_redirect_flow_with_consent_ends_in_a_verified_id_token(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_rp: MakeRp
) -> None:
    app, user = party
    browser = Browser(harness)
    rp = make_rp(app, scope="openid email phone roles")
    started = await start(rp)
    assert "code_challenge=" in started["url"] and "nonce=" in started["url"]

    first = await browser.get(started["url"])
    assert first.status_code == 303
    assert first.headers["location"].startswith("/oauth/consent?flow=")
    page = await browser.get(first.headers["location"])
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self' http://127.0.0.1:8001" in csp
    assert re.findall(r'data-scope="([a-z]+)"', page.text) == ["openid", "email", "phone", "roles"]
    assert "Shop" in page.text and "ada@example.com" in page.text

    allowed = await browser.consent(page)
    assert allowed.status_code == 303
    location = allowed.headers["location"]
    assert location.startswith(PARTNER_CALLBACK + "?")
    claims = await finish(rp, started, location)

    assert claims["sub"] == user.id
    assert claims["aud"] == "shop"
    assert claims["iss"] == ISSUER
    assert claims["pool"] == "partner-1"
    assert claims["nonce"] == started["nonce"]
    assert (claims["email"], claims["email_verified"]) == ("ada@example.com", True)
    assert (claims["phone_number"], claims["phone_number_verified"]) == ("+41446681800", True)
    assert claims["roles"] == ["buyer", "admin"]
    assert "groups" not in claims and "given_name" not in claims  # not asked for
    assert claims["amr"] == ["pwd"]
    assert claims["exp"] > claims["iat"] >= claims["auth_time"]
    (consent,) = await rows(harness, Consent)
    assert sorted(consent.scopes) == ["email", "openid", "phone", "roles"]
    assert await rows(harness, Flow) == []  # the consent flow is gone once used


async def test_granted_scopes_skip_consent_and_new_ones_ask_again(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_rp: MakeRp
) -> None:
    app, _ = party
    browser = Browser(harness)
    rp = make_rp(app, scope="openid email")
    started = await start(rp)
    page = await browser.get((await browser.get(started["url"])).headers["location"])
    await finish(rp, started, (await browser.consent(page)).headers["location"])

    again = await start(rp)
    direct = await browser.get(again["url"])
    assert direct.headers["location"].startswith(PARTNER_CALLBACK + "?code=")
    assert (await finish(rp, again, direct.headers["location"]))["email"] == "ada@example.com"

    more = await start(rp, scope="openid email groups profile")
    asked = await browser.get(more["url"])
    assert asked.headers["location"].startswith("/oauth/consent")
    page = await browser.get(asked.headers["location"])
    granted = re.findall(
        r'class="ws-consent-scope ws-consent-scope--granted" data-scope="(\w+)"', page.text
    )
    assert granted == ["openid", "email"]
    claims = await finish(rp, more, (await browser.consent(page)).headers["location"])
    assert claims["groups"] == ["emea"]
    assert (claims["given_name"], claims["family_name"], claims["name"]) == (
        "Ada",
        "Lovelace",
        "Ada Lovelace",
    )


async def test_deny_returns_access_denied_with_state(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_rp: MakeRp
) -> None:
    app, _ = party
    browser = Browser(harness)
    started = await start(make_rp(app))
    page = await browser.get((await browser.get(started["url"])).headers["location"])
    denied = await browser.consent(page, "deny")
    answer = query(denied.headers["location"])
    assert answer == {"error": "access_denied", "state": started["state"], "iss": ISSUER}
    assert await rows(harness, Consent) == []
    assert await rows(harness, AuthorizationCode) == []


async def test_without_a_session_the_login_page_takes_over_and_hands_back(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, log_in: LogIn, make_rp: MakeRp
) -> None:
    app, user = await make_app(), await make_user()
    browser = Browser(harness)
    rp = make_rp(app)
    started = await start(rp)
    to_login = await browser.get(started["url"])
    assert to_login.status_code == 303
    match = re.fullmatch(r"/embed/partner-1/login\?flow=([\w-]+)", to_login.headers["location"])
    assert match
    (flow,) = await rows(harness, Flow)
    assert (flow.id, flow.kind, flow.app_id, flow.state) == (
        match.group(1),
        "login",
        "shop",
        "form",
    )
    assert flow.oauth["continue"] == f"/oauth/authorize/continue?flow={flow.id}"
    assert flow.oauth["redirect_uri"] == PARTNER_CALLBACK
    assert flow.oauth["nonce"] == started["nonce"]

    # Before the login finishes, "continue" sends the browser back to the login page.
    early = await browser.get(flow.oauth["continue"])
    assert early.headers["location"] == to_login.headers["location"]

    # What the login page does on success: a session, the flow done with its id.
    await log_in(user)
    session_id = await _session_id(harness, user)
    async with harness.web.services.db.write() as session:
        row = await session.get(Flow, flow.id)
        assert row is not None
        row.state, row.user_id, row.data = "done", user.id, {"session_id": session_id}
    back = await browser.get(flow.oauth["continue"])
    assert back.headers["location"].startswith("/oauth/consent?flow=")
    page = await browser.get(back.headers["location"])
    claims = await finish(rp, started, (await browser.consent(page)).headers["location"])
    assert claims["sub"] == user.id
    replay = await browser.get(flow.oauth["continue"])
    assert replay.status_code == 410
    assert 'data-message-id="oauth.request_gone"' in replay.text


async def _session_id(h: Harness, user: EndUser) -> str:
    (found,) = [s for s in await rows(h, Session) if s.user_id == user.id]
    return str(found.id)


OPEN_REDIRECTS = [
    "https://good.example.evil.com/cb",
    "https://good.example@evil.com/cb",
    "https://evil.com/cb",
    "//evil.com/cb",
    "https://good.example/cb/../../evil",
    "https://good.example/cb/..%2f..%2fevil",
    "https%3A%2F%2Fgood.example%2Fcb",
    "https://good.example/cb%2F..%2F..%2Fevil",
    "https://good.example:8443/cb",
    "http://good.example/cb",
    "HTTPS://good.example/cb",
    "https://GOOD.example/cb",
    "https://good.example./cb",
    "https://good.example/cb/",
    "https://good.example/CB",
    "https://good.example/cb?x=1",
    "https://good.example/cb#x",
    "https://good.example/cb%00",
    " https://good.example/cb",
    "https://good.example\\@evil.com/cb",
    "https://good.example%2eevil.com/cb",
    "javascript:alert(1)//https://good.example/cb",
    "",
]


@pytest.mark.parametrize("redirect_uri", OPEN_REDIRECTS)
async def test_open_redirect_attempts_get_an_error_page_and_no_redirect(
    harness: Harness, make_app: MakeApp, redirect_uri: str
) -> None:
    await make_app(redirect_uris=["https://good.example/cb"])
    params = {
        "client_id": "shop",
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid",
        "state": "s",
    }
    response = await harness.client.get("/oauth/authorize?" + urlencode(params))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert 'data-message-id="oauth.invalid_redirect_uri"' in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_exact_registered_uri_is_accepted(harness: Harness, make_app: MakeApp) -> None:
    await make_app(redirect_uris=["https://good.example/cb"])
    params = {"client_id": "shop", "redirect_uri": "https://good.example/cb", "scope": "openid"}
    response = await harness.client.get(
        "/oauth/authorize?" + urlencode(params | {"response_type": "code"})
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/embed/partner-1/login?flow=")


@pytest.mark.parametrize(
    "query_string",
    [
        "redirect_uri=http%3A%2F%2F127.0.0.1%3A8001%2Fcallback&response_type=code&scope=openid",
        "client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A8001%2Fcallback&scope=openid",
        "client_id=shop&client_id=shop&redirect_uri=http%3A%2F%2F127.0.0.1%3A8001%2Fcallback",
        "client_id=shop&redirect_uri=http%3A%2F%2F127.0.0.1%3A8001%2Fcallback"
        "&redirect_uri=https%3A%2F%2Fevil.example%2F",
        "client_id=shop",
    ],
)
async def test_unknown_client_or_ambiguous_request_gets_an_error_page(
    harness: Harness, make_app: MakeApp, query_string: str
) -> None:
    await make_app()
    response = await harness.client.get("/oauth/authorize?" + query_string)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_revoked_app_cannot_start_a_sign_in(
    harness: Harness, make_app: MakeApp, operator: Any
) -> None:
    await make_app()
    await operator.post("/apps/shop/revoke")
    params = {"client_id": "shop", "redirect_uri": PARTNER_CALLBACK, "response_type": "code"}
    response = await harness.client.get(
        "/oauth/authorize?" + urlencode(params | {"scope": "openid"})
    )
    assert response.status_code == 400
    assert 'data-message-id="oauth.invalid_client"' in response.text


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "email"}, "invalid_scope"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"scope": "openid groups"}, "invalid_scope"),  # not allowed for this app
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "x" * 43}, "invalid_request"),  # method defaults to plain
        ({"pool": "partner-2"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"request": "eyJ..."}, "invalid_request"),
        ({"nonce": "n" * 300}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
    ],
)
async def test_bad_requests_go_back_to_the_client_with_state_and_iss(
    harness: Harness, make_app: MakeApp, extra: dict[str, str], error: str
) -> None:
    await make_app(scopes=["email"])
    params = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid email",
        "state": "st-1",
    } | extra
    response = await harness.client.get("/oauth/authorize?" + urlencode(params))
    assert response.status_code == 303
    assert response.headers["location"].startswith(PARTNER_CALLBACK + "?")
    answer = query(response.headers["location"])
    assert (answer["error"], answer["state"], answer["iss"]) == (error, "st-1", ISSUER)


async def test_public_apps_must_use_pkce(harness: Harness, make_app: MakeApp) -> None:
    await make_app(kind="public")
    params = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid",
    }
    response = await harness.client.get("/oauth/authorize?" + urlencode(params))
    assert query(response.headers["location"])["error"] == "invalid_request"


async def test_prompt_none(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, log_in: LogIn
) -> None:
    await make_app()
    params = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "prompt": "none",
    }
    url = "/oauth/authorize?" + urlencode(params)
    assert query((await harness.client.get(url)).headers["location"])["error"] == "login_required"
    await log_in(await make_user())
    assert query((await harness.client.get(url)).headers["location"])["error"] == "consent_required"


async def test_prompt_login_and_max_age_force_a_new_login(
    harness: Harness, party: tuple[PartnerApp, EndUser]
) -> None:
    params = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid",
    }
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        harness.clock.advance(1)
        response = await harness.client.get("/oauth/authorize?" + urlencode(params | extra))
        assert response.headers["location"].startswith("/embed/partner-1/login?flow=")


async def test_a_session_of_another_pool_does_not_count(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, log_in: LogIn
) -> None:
    await make_app(pool_ids=["partner-1", "partner-2"])
    await log_in(await make_user(pool_id="partner-2"))
    params = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "pool": "partner-1",
    }
    response = await harness.client.get("/oauth/authorize?" + urlencode(params))
    assert response.headers["location"].startswith("/embed/partner-1/login?flow=")
    no_pool = await harness.client.get(
        "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if k != "pool"})
    )
    assert query(no_pool.headers["location"])["error"] == "invalid_request"


async def test_consent_form_is_protected(
    harness: Harness,
    party: tuple[PartnerApp, EndUser],
    make_rp: MakeRp,
    make_user: MakeUser,
    log_in: LogIn,
) -> None:
    app, _ = party
    browser = Browser(harness)
    started = await start(make_rp(app))
    page = await browser.get((await browser.get(started["url"])).headers["location"])
    fields = dict(re.findall(r'name="(flow_id|csrf_token)" value="([^"]+)"', page.text))

    forged = await harness.client.post(
        "/oauth/consent", data=fields | {"csrf_token": "x" * 43, "decision": "allow"}
    )
    assert forged.status_code == 403
    # Someone else's browser (another session) cannot submit this user's consent.
    await log_in(await make_user(email="eve@example.com"))
    other = await harness.client.post("/oauth/consent", data=fields | {"decision": "allow"})
    assert other.status_code == 400
    assert 'data-message-id="oauth.session_missing"' in other.text
    assert await rows(harness, AuthorizationCode) == []
    assert await rows(harness, Consent) == []


async def test_consent_is_used_once(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_rp: MakeRp
) -> None:
    app, _ = party
    browser = Browser(harness)
    started = await start(make_rp(app))
    page = await browser.get((await browser.get(started["url"])).headers["location"])
    assert (await browser.consent(page)).status_code == 303
    replay = await browser.consent(page)
    assert replay.status_code == 410
    assert len(await rows(harness, AuthorizationCode)) == 1


async def test_consent_page_escapes_the_app_name_and_the_address(
    harness: Harness, make_app: MakeApp, make_user: MakeUser, log_in: LogIn, make_rp: MakeRp
) -> None:
    app = await make_app(name='<img src=x onerror="alert(1)">')
    await log_in(await make_user(email="a+<b>@example.com"))
    browser = Browser(harness)
    started = await start(make_rp(app))
    page = await browser.get((await browser.get(started["url"])).headers["location"])
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
    assert "a+<b>@" not in page.text and "a+&lt;b&gt;@example.com" in page.text


async def test_repeated_parameters_are_refused(harness: Harness, make_app: MakeApp) -> None:
    await make_app()
    base = urlencode(
        {"client_id": "shop", "redirect_uri": PARTNER_CALLBACK, "response_type": "code"}
    )
    response = await harness.client.get(
        f"/oauth/authorize?{base}&scope=openid&scope=openid+email&state=a&state=b"
    )
    answer = query(response.headers["location"])
    assert answer["error"] == "invalid_request"
    assert "state" not in answer  # which one would it be?


async def test_the_request_may_be_posted(harness: Harness, make_app: MakeApp) -> None:
    await make_app()
    form = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid",
    }
    response = await harness.client.post("/oauth/authorize", data=form)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/embed/partner-1/login?flow=")
    bad = await harness.client.post(
        "/oauth/authorize", data=form | {"redirect_uri": "https://e.x/"}
    )
    assert bad.status_code == 400
    assert "location" not in bad.headers


async def test_a_pool_gone_from_the_apps_tenant_is_refused(
    harness: Harness, make_app: MakeApp
) -> None:
    await make_app()
    async with harness.web.services.db.write() as session:
        app = await session.get(App, "shop")
        assert app is not None
        app.pool_ids = ["partner-1", "no-such-pool"]
    params = {
        "client_id": "shop",
        "redirect_uri": PARTNER_CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "pool": "no-such-pool",
    }
    response = await harness.client.get("/oauth/authorize?" + urlencode(params))
    assert query(response.headers["location"])["error"] == "invalid_request"


async def test_a_taken_back_grant_asks_again(
    harness: Harness, party: tuple[PartnerApp, EndUser], make_rp: MakeRp
) -> None:
    app, user = party
    browser = Browser(harness)
    rp = make_rp(app, scope="openid email")
    started = await start(rp)
    page = await browser.get((await browser.get(started["url"])).headers["location"])
    await finish(rp, started, (await browser.consent(page)).headers["location"])
    (grant,) = await list_grants(harness.web.services, user.id)
    assert (grant.app_id, grant.app_name, grant.scopes) == ("shop", "Shop", ["email", "openid"])

    assert await revoke_grant(harness.web.services, user.id, "shop") is True
    assert await revoke_grant(harness.web.services, user.id, "shop") is False
    assert await list_grants(harness.web.services, user.id) == []
    again = await browser.get((await start(rp))["url"])
    assert again.headers["location"].startswith("/oauth/consent?flow=")
