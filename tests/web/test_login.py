"""Login inside the embedded widget: sessions, enumeration safety, throttling, apps, the
OIDC hand-over, MFA hook, logout and revocation."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, update

from tests.admin.keys import MakeKey
from tests.auth.people import make_user
from tests.conftest import PARTNER, FlowPage, Harness, count, rows
from tests.web.login_client import LoginClient, event_of, parent_origin_of, set_cookie
from widget_server import secrets_
from widget_server.auth import sessions
from widget_server.auth.redirects import safe_local_path
from widget_server.models import (
    App,
    AuthorizationCode,
    Credential,
    Flow,
    Pool,
    Session,
    Tenant,
    User,
)
from widget_server.oidc.codes import code_hash
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.web.widget import login_views
from widget_server.web.widget.login_views import logout_csrf


class CountingHasher:
    """The test hasher, counting what reaches it (hash and verify alike)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def hash(self, password: str) -> str:
        self.calls += 1
        return str(self.inner.hash(password))

    def verify(self, hash: str, password: str) -> bool:
        self.calls += 1
        return bool(self.inner.verify(hash, password))

    def needs_rehash(self, hash: str) -> bool:
        return bool(self.inner.needs_rehash(hash))


def counting(h: Harness) -> CountingHasher:
    hashing = h.web.services.hashing
    counter = CountingHasher(hashing.hasher)
    hashing.hasher = counter
    return counter


@pytest.fixture
def client(harness: Harness) -> LoginClient:
    return LoginClient(harness)


async def test_the_form_writes_nothing_and_links_onwards(
    harness: Harness, client: LoginClient
) -> None:
    page = await client.open()
    assert page.status == 200 and page.state == "form"
    assert 'name="identifier"' in page.text and 'autocomplete="current-password"' in page.text
    assert "/embed/partner-1/recover?" + urlencode({"parent_origin": PARTNER}) in page.text
    assert 'data-link="register"' in page.text
    assert "flow_ticket" in page.hidden
    assert await count(harness, Flow) == 0
    assert page.response.headers["cache-control"] == "no-store"
    assert PARTNER in page.response.headers["content-security-policy"]


async def test_a_login_sets_a_partitioned_session_cookie(
    harness: Harness, client: LoginClient
) -> None:
    ada = await make_user(harness)
    page = await client.log_in("Ada@Example.com", ada.password)
    assert page.status == 200 and page.state == "done"
    cookie = set_cookie(client.last)  # type: ignore[arg-type]
    assert cookie is not None and cookie["name"] == "ws_session_partner-1"
    for attribute in ("secure", "httponly", "partitioned"):
        assert cookie[attribute] == "true"
    assert cookie["samesite"] == "None" and cookie["path"] == "/"
    assert cookie["max-age"] == "86400"
    [row] = await rows(harness, Session)
    assert row.user_id == ada.user_id and row.amr == ["pwd"] and row.app_id is None
    assert row.token_hash == sessions.token_hash(harness.web.services, cookie["value"])
    # The partner page hears about it, without a code (no app) and without the token.
    assert event_of(page) == {"type": "logged-in", "pool_id": "partner-1"}
    assert cookie["value"] not in page.text
    # widget.js posts to the origin the full page named (htmx swaps keep that page's head).
    full = await harness.client.get(client.path, params={"parent_origin": PARTNER})
    assert parent_origin_of(FlowPage(full, "partner-1")) == PARTNER


async def test_a_plain_form_post_redirects_to_the_done_page(harness: Harness) -> None:
    ada = await make_user(harness)
    client = LoginClient(harness, htmx=False)
    await client.open()
    page = await client.submit(ada.email, ada.password)
    assert client.last is not None and client.last.status_code == 303
    assert page.state == "done" and event_of(page) == {"type": "logged-in", "pool_id": "partner-1"}
    # The same page without the session (another browser) shows a fresh form.
    flow_url = client.last.headers["location"]
    stranger = await harness.client.get(flow_url)
    assert 'data-state="form"' in stranger.text and "login.session_ended" in stranger.text


async def test_every_login_makes_a_new_session(harness: Harness, client: LoginClient) -> None:
    ada = await make_user(harness)
    await client.log_in(ada.email, ada.password)
    first = client.token
    # A planted (or old) cookie is never adopted: logging in again gives a new one.
    page = await client.open()
    assert page.state == "done" and 'data-link="switch"' in page.text
    await client.log_in(ada.email, ada.password, prompt="login")
    assert client.token != first
    ids = {s.id for s in await rows(harness, Session)}
    assert len(ids) == 2


async def test_a_replayed_login_post_is_refused(harness: Harness, client: LoginClient) -> None:
    ada = await make_user(harness)
    page = await client.open()
    body = {**page.hidden, "identifier": ada.email, "password": ada.password}
    first = await harness.client.post(client.path, data=body, headers=client.headers())
    again = await harness.client.post(client.path, data=body, headers=client.headers())
    assert first.status_code == 200
    assert again.status_code == 409 and "login.done" in again.text
    assert set_cookie(again) is None
    assert await count(harness, Session) == 1


async def test_csrf_and_malformed_posts(harness: Harness, client: LoginClient) -> None:
    ada = await make_user(harness)
    page = await client.open()
    forged = {**page.hidden, "csrf_token": "x" * 43, "identifier": ada.email}
    response = await harness.client.post(client.path, data=forged | {"password": ada.password})
    assert response.status_code == 403 and "flow.csrf" in response.text
    doubled = urlencode([("flow_id", page.flow_id), ("flow_id", page.flow_id)])
    form = {"content-type": "application/x-www-form-urlencoded"}
    response = await harness.client.post(client.path, content=doubled, headers=form)
    assert response.status_code == 400 and "flow.malformed" in response.text
    extra = {**page.hidden, "identifier": ada.email, "password": ada.password, "admin": "1"}
    response = await harness.client.post(client.path, data=extra)
    assert response.status_code == 400 and await count(harness, Session) == 0


async def test_empty_fields_are_required_and_cost_no_hash(
    harness: Harness, client: LoginClient
) -> None:
    hasher = counting(harness)
    await client.open()
    page = await client.submit("", "")
    assert page.status == 422
    assert page.field_errors("identifier") == ["form.required"]
    assert page.field_errors("password") == ["form.required"]
    assert hasher.calls == 0


# --- enumeration --------------------------------------------------------------------------


def _shape(page: Any) -> tuple[int, str | None, list[str], str]:
    """Everything a caller sees, minus the per-flow values."""
    text = page.text
    for value in page.hidden.values():
        text = text.replace(value, "")
    return page.status, page.state, page.message_ids, text


async def test_unknown_wrong_and_not_active_look_the_same(harness: Harness) -> None:
    ada = await make_user(harness)
    for status in ("inactive", "new", "deleted"):
        await make_user(harness, f"{status}@example.com", ada.password, status=status)
    no_password = await make_user(harness, "nopass@example.com")
    async with harness.web.services.db.write() as db:
        await db.execute(
            Credential.__table__.delete().where(Credential.user_id == no_password.user_id)
        )
    hasher = counting(harness)
    attempts = [
        ("nobody@example.com", ada.password),  # unknown
        (ada.email, "wrong password!"),  # wrong password
        ("inactive@example.com", ada.password),  # right password, inactive
        ("new@example.com", ada.password),  # right password, not activated
        ("deleted@example.com", ada.password),  # right password, deleted
        ("nopass@example.com", ada.password),  # no password set
        ("not an email", ada.password),  # unreadable identifier
    ]
    shapes = []
    for identifier, password in attempts:
        client = LoginClient(harness)
        before = hasher.calls
        page = await client.log_in(identifier, password)
        # Timing class: every one of them ran the hasher exactly once.
        assert hasher.calls - before == 1, identifier
        assert set_cookie(client.last) is None  # type: ignore[arg-type]
        status, state, ids, text = _shape(page)
        shapes.append((status, state, ids, text.replace(identifier, "")))
    assert all(shape == shapes[0] for shape in shapes), shapes
    assert shapes[0][:3] == (400, "form", ["login.failed"])
    assert await count(harness, Session) == 0


# --- throttling ---------------------------------------------------------------------------


async def test_throttle_waits_then_lets_the_right_password_in(
    harness: Harness, client: LoginClient
) -> None:
    ada = await make_user(harness)
    for _ in range(5):
        page = await client.log_in(ada.email, "wrong password!")
        assert page.message_ids == ["login.failed"]
    hasher = counting(harness)
    page = await client.log_in(ada.email, ada.password)
    assert page.status == 429 and page.message_ids == ["login.throttled"]
    assert client.last is not None and client.last.headers["retry-after"] == "1"
    assert hasher.calls == 0  # refused before hashing
    harness.clock.advance(1)
    page = await client.log_in(ada.email, ada.password)
    assert page.state == "done"


async def test_throttling_answers_the_same_for_unknown_accounts(
    harness: Harness, client: LoginClient
) -> None:
    ada = await make_user(harness)
    answers = []
    for identifier in (ada.email, "ghost@example.com"):
        for _ in range(5):
            await client.log_in(identifier, "wrong password!")
        page = await client.log_in(identifier, "wrong password!")
        answers.append((page.status, page.message_ids, client.last.headers["retry-after"]))  # type: ignore[union-attr]
    assert answers[0] == answers[1] == (429, ["login.throttled"], "1")


async def test_parallel_wrong_logins_stay_within_the_allowance(harness: Harness) -> None:
    ada = await make_user(harness)
    hasher = counting(harness)
    client = LoginClient(harness)
    page = await client.open()
    body = {**page.hidden, "identifier": ada.email, "password": "wrong password!"}
    responses = await asyncio.gather(
        *(
            harness.client.post(client.path, data=body, headers={"HX-Request": "true"})
            for _ in range(50)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(400) == 5 and statuses.count(429) == 45
    assert hasher.calls == 5


# --- rehash -----------------------------------------------------------------------------


async def test_an_old_hash_is_upgraded_on_login(harness: Harness, client: LoginClient) -> None:
    ada = await make_user(harness)
    old = Argon2Hasher(time_cost=1, memory_kib=16).hash(ada.password)
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Credential).where(Credential.user_id == ada.user_id).values(secret_hash=old)
        )
    page = await client.log_in(ada.email, ada.password)
    assert page.state == "done"
    [credential] = await rows(harness, Credential)
    assert credential.secret_hash != old
    assert not harness.web.services.hashing.hasher.needs_rehash(credential.secret_hash)
    assert harness.web.services.hashing.hasher.verify(credential.secret_hash, ada.password)


# --- apps and the OIDC hand-over -------------------------------------------------------


async def _app(h: Harness, app_id: str = "shop", **values: Any) -> None:
    now = h.clock.now()
    row = {
        "id": app_id,
        "tenant_id": "acme",
        "name": "Shop",
        "kind": "public",
        "secret_hash": None,
        "allowed_origins": [PARTNER],
        "redirect_uris": [],
        "pool_ids": ["partner-1"],
        "scopes": [],
        "theme": {},
        "created_at": now,
        "updated_at": now,
        "revoked_at": None,
    } | values
    async with h.web.services.db.write() as db:
        db.add(App(**row))


async def test_an_app_gets_a_one_time_code_at_its_exact_origin(
    harness: Harness, client: LoginClient
) -> None:
    await _app(harness)
    ada = await make_user(harness)
    page = await client.log_in(ada.email, ada.password, client_id="shop")
    event = event_of(page)
    assert event is not None and set(event) == {"type", "pool_id", "code"}
    assert event["type"] == "logged-in"
    full = await harness.client.get(
        client.path, params={"parent_origin": PARTNER, "client_id": "shop"}
    )
    assert parent_origin_of(FlowPage(full, "partner-1")) == PARTNER
    [code] = await rows(harness, AuthorizationCode)
    [session] = await rows(harness, Session)
    assert code.code_hash == code_hash(harness.web.services, event["code"])
    assert (code.app_id, code.user_id, code.session_id) == ("shop", ada.user_id, session.id)
    assert code.redirect_uri is None and code.amr == ["pwd"] and session.app_id == "shop"
    assert (code.expires_at - harness.clock.now()).total_seconds() == 60
    assert "frame-ancestors " + PARTNER in page.response.headers["content-security-policy"]


async def test_no_code_for_an_origin_the_app_does_not_list(
    harness: Harness, client: LoginClient
) -> None:
    await _app(harness, allowed_origins=["https://shop.example"])
    ada = await make_user(harness)
    page = await client.log_in(ada.email, ada.password, client_id="shop")
    assert page.state == "done" and event_of(page) is None
    full = await harness.client.get(
        client.path, params={"parent_origin": PARTNER, "client_id": "shop"}
    )
    assert parent_origin_of(FlowPage(full, "partner-1")) is None
    assert await count(harness, AuthorizationCode) == 0


async def test_a_plain_post_gets_a_fresh_code_on_the_done_page(harness: Harness) -> None:
    await _app(harness)
    ada = await make_user(harness)
    client = LoginClient(harness, htmx=False)
    page = await client.log_in(ada.email, ada.password, client_id="shop")
    event = event_of(page)
    assert event is not None and "code" in event
    assert client.last is not None and "code" not in client.last.headers["location"]
    assert await count(harness, AuthorizationCode) == 2  # one at login, one for the page


@pytest.mark.parametrize(
    "values",
    [{"revoked_at": "now"}, {"pool_ids": ["partner-2"]}, {"tenant_id": "other"}, None],
)
async def test_unknown_or_foreign_apps_get_no_form(
    harness: Harness, client: LoginClient, values: dict[str, Any] | None
) -> None:
    if values is not None:
        if values.get("revoked_at") == "now":
            values = {"revoked_at": harness.clock.now()}
        if values.get("tenant_id") == "other":
            async with harness.web.services.db.write() as db:
                db.add(Tenant(id="other", name="Other", theme={}, created_at=harness.clock.now()))
        await _app(harness, **values)
    page = await client.open(client_id="shop")
    assert page.status == 404 and page.message_ids == ["login.unknown_app"]


async def _oauth_flow(h: Harness, continue_to: str) -> str:
    flow_id = secrets_.new_token()
    now = h.clock.now()
    async with h.web.services.db.write() as db:
        db.add(
            Flow(
                id=flow_id,
                kind="login",
                pool_id="partner-1",
                state="form",
                step="",
                data={},
                password_hash=None,
                parent_origin=None,
                app_id="shop",
                oauth={"continue": continue_to, "redirect_uri": "https://shop.example/cb"},
                user_id=None,
                address=None,
                expires_at=now + timedelta(hours=1),
                created_at=now,
                updated_at=now,
            )
        )
    return flow_id


async def test_an_authorization_request_continues_after_the_login(harness: Harness) -> None:
    await _app(harness)
    ada = await make_user(harness)
    flow_id = await _oauth_flow(harness, "/oauth/authorize/continue?flow=abc")
    plain = LoginClient(harness, htmx=False)
    await plain.open(flow=flow_id)
    assert plain.page is not None and "flow_ticket" not in plain.page.hidden
    await plain.submit(ada.email, ada.password)
    assert plain.last is not None and plain.last.status_code == 303
    assert plain.last.headers["location"] == "/oauth/authorize/continue?flow=abc"
    assert plain.token is not None  # the authorization endpoint reads this session
    # No code on a page: the authorization endpoint issues the one for the redirect.
    assert await count(harness, AuthorizationCode) == 0
    flow_id = await _oauth_flow(harness, "/oauth/authorize/continue?flow=def")
    htmx = LoginClient(harness)
    await htmx.open(flow=flow_id)
    await htmx.submit(ada.email, ada.password)
    assert htmx.last is not None and htmx.last.headers["hx-redirect"] == (
        "/oauth/authorize/continue?flow=def"
    )


BYPASSES = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example",
    "http:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%2F%2Fevil.example",
    "/%2f/evil.example",
    "/%5Cevil.example",
    "%2F%2Fevil.example",
    "/%252F%252Fevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    " //evil.example",
    "//evil.example/%2F..",
    "///evil.example",
    "/ /evil.example",
    "evil.example",
    "",
    "/\x00/evil.example",
    "/\u3002evil",
    "https:/\\evil.example",
]


@pytest.mark.parametrize("target", BYPASSES)
def test_open_redirect_bypasses_are_refused(target: str) -> None:
    assert safe_local_path(target) is None


def test_local_paths_are_kept() -> None:
    for path in ("/oauth/authorize/continue?flow=x", "/a/b?c=%2F", "/"):
        assert safe_local_path(path) == path


async def test_a_flow_with_a_foreign_continue_ends_on_the_done_page(harness: Harness) -> None:
    await _app(harness)
    ada = await make_user(harness)
    flow_id = await _oauth_flow(harness, "//evil.example/steal")
    client = LoginClient(harness)
    await client.open(flow=flow_id)
    page = await client.submit(ada.email, ada.password)
    assert page.state == "done" and "hx-redirect" not in client.last.headers  # type: ignore[union-attr]
    assert "evil.example" not in page.text


# --- MFA hook -----------------------------------------------------------------------------


async def test_a_pool_requiring_mfa_stops_before_the_session(
    harness: Harness, client: LoginClient
) -> None:
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Pool).where(Pool.id == "partner-1").values(mfa="required", version=2)
        )
    harness.web.services.pools.forget("partner-1")
    ada = await make_user(harness)
    page = await client.log_in(ada.email, ada.password)
    assert page.state == "mfa" and client.token is None
    assert await count(harness, Session) == 0
    [flow] = await rows(harness, Flow)
    assert (flow.state, flow.user_id, flow.data["amr"]) == ("mfa", ada.user_id, ["pwd"])


# --- phone identifiers --------------------------------------------------------------------


async def test_phone_numbers_in_national_format(harness: Harness, client: LoginClient) -> None:
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Pool)
            .where(Pool.id == "partner-1")
            .values(activation_methods=["email", "phone"], phone_regions=["DE"], version=2)
        )
    harness.web.services.pools.forget("partner-1")
    ada = await make_user(harness, phone="+4915123456789")
    page = await client.open()
    assert "ui.identifier_email_or_phone" not in page.text and "Email or phone number" in page.text
    for typed in ("0151 23456789", "+49 151 23456789", "0049-151-234-56789"):
        page = await LoginClient(harness).log_in(typed, ada.password)
        assert page.state == "done", typed
    # A number from a region the pool does not accept is just an unknown account.
    page = await client.log_in("+1 650 253 0000", ada.password)
    assert page.message_ids == ["login.failed"]


# --- logout and revocation ----------------------------------------------------------------


async def test_logout_ends_the_session_and_clears_the_cookie(
    harness: Harness, client: LoginClient
) -> None:
    ada = await make_user(harness)
    await client.log_in(ada.email, ada.password)
    token = client.token
    page = await client.log_out()
    assert page.status == 200 and page.state == "ended"
    assert "login.signed_out" in page.message_ids
    assert event_of(page) == {"type": "logged-out", "pool_id": "partner-1"}
    assert client.token is None
    cookie = set_cookie(client.last)  # type: ignore[arg-type]
    assert cookie is not None and cookie["max-age"] == "0" and cookie["partitioned"] == "true"
    assert await sessions.current_session(harness.web.services, token, "partner-1") is None


async def test_logout_needs_the_sessions_csrf_token(harness: Harness, client: LoginClient) -> None:
    ada = await make_user(harness)
    await client.log_in(ada.email, ada.password)
    token = client.token
    page = await client.log_out(csrf="forged-token-" + "x" * 30)
    assert page.status == 403 and page.message_ids == ["flow.csrf"]
    assert await sessions.current_session(harness.web.services, token, "partner-1") is not None
    # Another session's token does not work either.
    other = LoginClient(harness)
    await other.log_in(ada.email, ada.password)
    assert other.page is not None
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', other.page.text)
    assert csrf is not None
    page = await client.log_out(csrf=csrf.group(1))
    assert page.status == 403


async def test_a_plain_logout_redirects_to_a_signed_out_page(harness: Harness) -> None:
    ada = await make_user(harness)
    client = LoginClient(harness, htmx=False)
    await client.log_in(ada.email, ada.password)
    page = await client.log_out()
    assert client.last is not None and client.last.status_code == 303
    assert page.state == "ended" and client.token is None


@pytest.mark.parametrize("action", ["deactivate", "delete"])
async def test_admin_deactivation_or_deletion_ends_sessions(
    harness: Harness, make_key: MakeKey, action: str
) -> None:
    operator = await make_key("tenant_admin")
    ada = await make_user(harness)
    client = LoginClient(harness)
    await client.log_in(ada.email, ada.password)
    token = client.token
    path = f"/pools/partner-1/users/{ada.user_id}"
    response = await (
        operator.post(f"{path}/deactivate") if action == "deactivate" else operator.delete(path)
    )
    assert response.status_code in (200, 204), response.text
    assert await sessions.current_session(harness.web.services, token, "partner-1") is None
    # Revoked, or (deletion erases personal data) gone with the user's rows.
    assert all(row.revoked_at is not None for row in await rows(harness, Session))
    page = await client.log_in(ada.email, ada.password)
    assert page.message_ids == ["login.failed"]
    async with harness.web.services.db.read() as db:
        status = await db.scalar(select(User.status).where(User.id == ada.user_id))
    assert status == ("inactive" if action == "deactivate" else "deleted")


async def test_cached_pages_carry_each_visitors_own_values(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The form and done pages come from a per-pool cache: nothing of one visitor may
    show up on another's page, and a cached page is the fresh render byte for byte."""
    other = "http://127.0.0.1:8002"
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Pool).where(Pool.id == "partner-1").values(allowed_origins=[PARTNER, other])
        )
    harness.web.services.pools.forget("partner-1")
    ada = await make_user(harness)
    seen: list[tuple[str, str]] = []
    for origin in (PARTNER, other, PARTNER):
        client = LoginClient(harness, htmx=False)
        page = await client.open(parent_origin=origin)
        assert "/embed/partner-1/recover?" + urlencode({"parent_origin": origin}) in page.text
        assert parent_origin_of(page) == origin
        done = await client.submit(ada.email, ada.password)
        assert done.state == "done" and parent_origin_of(done) == origin
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', done.text)
        sessions_now = await rows(harness, Session)
        [live] = [s for s in sessions_now if s.id not in {sid for _, sid in seen}]
        assert csrf is not None
        assert csrf.group(1) == logout_csrf(harness.web.services, live.id)
        seen.append((page.flow_id, live.id))
        # The same page drawn without the cache is the same, byte for byte.
        flow_url = f"{client.path}?flow={done.response.url.params['flow']}"
        cached = await harness.client.get(flow_url, headers=client.headers())
        monkeypatch.setattr(login_views._PAGES, "get", lambda _o, _k, values, draw: draw(values))
        fresh = await harness.client.get(flow_url, headers=client.headers())
        monkeypatch.undo()
        strip = re.compile(r'"code": "[^"]+"')  # each view of an app's page has its own code
        assert strip.sub("", cached.text) == strip.sub("", fresh.text)
    assert len({flow for flow, _ in seen}) == 3


async def test_a_signed_in_browser_sees_so_and_can_sign_out(harness: Harness) -> None:
    ada = await make_user(harness)
    client = LoginClient(harness)
    await client.log_in(ada.email, ada.password)
    flows_before = await count(harness, Flow)
    page = await client.open()
    assert page.state == "done" and event_of(page) == {"type": "logged-in", "pool_id": "partner-1"}
    assert await count(harness, Flow) == flows_before  # nothing written to show it
    assert (await client.log_out()).state == "ended"
    assert (await client.open()).state == "form"
    # Another pool's page does not count this pool's session.
    other = LoginClient(harness, pool="partner-2")
    other.cookies = dict(client.cookies)
    assert (await other.open()).state == "form"


async def test_an_apps_page_gets_a_code_for_the_live_session(harness: Harness) -> None:
    await _app(harness)
    ada = await make_user(harness)
    client = LoginClient(harness)
    await client.log_in(ada.email, ada.password, client_id="shop")
    page = await client.open(client_id="shop")
    event = event_of(page)
    assert page.state == "done" and event is not None and "code" in event
    [session] = await rows(harness, Session)
    codes = await rows(harness, AuthorizationCode)
    assert len(codes) == 2 and {c.session_id for c in codes} == {session.id}
    assert code_hash(harness.web.services, event["code"]) in {c.code_hash for c in codes}
    # Not for an origin the app does not list: no code, no event.
    page = await client.open(client_id="shop", parent_origin="https://elsewhere.example")
    assert page.state == "done" and event_of(page) is None
    assert await count(harness, AuthorizationCode) == 2


async def test_the_typed_identifier_comes_back_escaped(harness: Harness) -> None:
    client = LoginClient(harness)
    hostile = '"><script>alert(1)</script>@example.com'
    page = await client.log_in(hostile, "whatever password")
    assert page.status == 400 and page.message_ids == ["login.failed"]
    assert "<script>alert(1)</script>" not in page.text
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in page.text


async def test_the_done_card_says_who_is_signed_in(harness: Harness, client: LoginClient) -> None:
    ada = await make_user(harness)
    page = await client.log_in(ada.email.upper(), ada.password)
    signed_in_as = re.search(r"<p class=\"ws-signed-in-as\"[^>]*>(.*?)</p>", page.text, re.S)
    assert signed_in_as is not None
    # The verified address as stored (normalised), not what was typed.
    assert ada.email.lower() in signed_in_as.group(1)
    assert ada.email.upper() not in page.text
    # The same card for a browser that comes back signed in (no new login).
    cookie = set_cookie(client.last)  # type: ignore[arg-type]
    assert cookie is not None
    again = await harness.client.get(
        client.path,
        params={"parent_origin": PARTNER},
        headers={"cookie": f"{cookie['name']}={cookie['value']}"},
    )
    assert 'data-state="done"' in again.text
    assert f'<span class="ws-address">{ada.email.lower()}</span>' in again.text
