"""The developer portal (``/developers``): a partner developer signs in with the demo's
developer of Partner 1, sees only its pool, registers an app for it, and gets snippets
made from the live configuration; it never reaches users or other pools' apps."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Harness
from tests.web.portal_client import OPERATOR, PortalClient, message_ids, portal_client
from widget_server.admin import apps
from widget_server.admin.access import Actor, Principal
from widget_server.admin.apps import NewApp
from widget_server.seed import DEMO_ADMINS

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")


async def _sign_in(h: Harness, email: str, password: str) -> PortalClient:
    client = PortalClient(h, portal_client(h))
    response = await client.client.post(
        "/developers/login", data={"email": email, "password": password}
    )
    assert response.status_code == 303, response.text[:300]
    assert response.headers["location"] == "/developers"
    cookie = response.headers["set-cookie"]
    assert "ws_dev=" in cookie and "Path=/developers" in cookie and "HttpOnly" in cookie
    await client.follow(response)
    return client


@pytest.fixture
async def dev(h: Harness) -> AsyncIterator[PortalClient]:
    client = await _sign_in(h, DEVELOPER.email, DEVELOPER.password)
    yield client
    await client.client.aclose()


async def test_the_developer_sees_its_pool_and_nothing_else(h: Harness, dev: PortalClient) -> None:
    page = dev.last
    assert page is not None and page.status_code == 200
    assert 'data-pool="partner-1"' in page.text
    assert 'data-pool="partner-2"' not in page.text and "Business 1" not in page.text
    # The operator portal is another console: this session does not open it.
    admin = await dev.client.get("/admin")
    assert admin.status_code == 303 and admin.headers["location"].startswith("/admin/login")
    # No users, ever: the developer has no portal pages for them and the API refuses.
    assert "/users" not in page.text


async def test_sign_in_refuses_wrong_passwords_and_cross_site_posts(h: Harness) -> None:
    async with portal_client(h) as client:
        wrong = await client.post(
            "/developers/login", data={"email": DEVELOPER.email, "password": "nope-nope-nope"}
        )
        assert wrong.status_code == 401 and "admin.login_failed" in wrong.text
        forged = await client.post(
            "/developers/login",
            data={"email": DEVELOPER.email, "password": DEVELOPER.password},
            headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        )
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        anonymous = await client.get("/developers/apps")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/developers/login"


async def test_a_pool_admin_has_no_developer_portal(h: Harness) -> None:
    lead = next(a for a in DEMO_ADMINS if a.role == "pool_admin")
    async with portal_client(h) as http:
        response = await http.post(
            "/developers/login", data={"email": lead.email, "password": lead.password}
        )
        assert response.status_code == 303
        page = await http.get("/developers")
        assert page.status_code == 403


async def test_the_developer_registers_an_app_for_its_pool_only(
    h: Harness, dev: PortalClient
) -> None:
    form = {
        "name": "Partner shop",
        "kind": "confidential",
        "pool_ids": "partner-1",
        "redirect_uris": "https://shop.example/callback",
        "allowed_origins": "https://shop.example",
        "scopes": "email",
    }
    await dev.get("/developers/apps")
    created = await dev.post("/developers/apps", form)
    assert created.status_code == 200, message_ids(created)
    secret = re.search(r"data-client-secret>([^<]+)<", created.text)
    assert secret is not None and len(secret.group(1)) > 30
    # Another pool reads like one that does not exist, and nothing is stored.
    refused = await dev.post("/developers/apps", form | {"name": "x", "pool_ids": "partner-2"})
    assert refused.status_code == 422 and "app.pool_unknown" in message_ids(refused)
    listed = await apps.list_apps(h.web.services, _operator())
    assert [a.name for a in listed if a.name in ("Partner shop", "x")] == ["Partner shop"]


async def test_an_app_of_another_pool_is_not_found(h: Harness, dev: PortalClient) -> None:
    other = await apps.create_app(
        h.web.services,
        _operator(),
        NewApp(name="Business app", kind="confidential", pool_ids=["business-1"]),
    )
    await dev.get("/developers/apps")
    assert other.app.id not in (dev.last.text if dev.last else "")
    response = await dev.post(f"/developers/apps/{other.app.id}/revoke", {})
    assert response.status_code == 404


async def test_snippets_come_from_the_live_configuration(h: Harness, dev: PortalClient) -> None:
    page = await dev.get("/developers/snippets?framework=react&flow=login")
    assert page.status_code == 200
    code = re.search(r'<code id="snippet-code">(.*?)</code>', page.text, re.S)
    assert code is not None
    assert "partner-1" in code.group(1) and h.settings.public_url.rstrip("/") in code.group(1)
    assert "frame-src" in page.text  # the CSP lines the partner's page needs
    # htmx asks for the snippet alone when a choice changes.
    fragment = await dev.get(
        "/developers/snippets?framework=html-iframe", headers={"HX-Request": "true"}
    )
    assert fragment.text.lstrip().startswith('<section class="adm-section" id="snippet"')
    assert "&lt;iframe" in fragment.text
    # A pool outside the scope is never used, whatever the URL says.
    foreign = await dev.get("/developers/snippets?pool=business-1")
    used = re.search(r'<code id="snippet-code">(.*?)</code>', foreign.text, re.S)
    assert used is not None and "business-1" not in used.group(1)


async def test_the_reference_lists_events_claims_errors_and_webhooks(dev: PortalClient) -> None:
    page = await dev.get("/developers/reference")
    assert page.status_code == 200
    for anchor in ("events", "tokens", "errors", "webhooks"):
        assert f'id="{anchor}"' in page.text, anchor
    assert "user.registered" in page.text and "logged-in" in page.text


def _operator() -> Actor:
    return Actor(
        principal=Principal(
            id="operator",
            tenant_id="acme",
            pool_id=None,
            role="tenant_admin",
            kind="person",
            name=OPERATOR.name,
        )
    )


async def test_the_embed_test_page_reports_what_to_fix(h: Harness, dev: PortalClient) -> None:
    blank = await dev.get("/developers/test-embed")
    assert blank.status_code == 200 and "What this page cannot check" in blank.text
    wrong = await dev.get(
        "/developers/test-embed", params={"origin": "https://shop.example", "pool": "partner-1"}
    )
    assert 'data-check="origin" data-ok="no"' in wrong.text
    assert 'data-check="site" data-ok="partly"' in wrong.text  # cross-site from localhost
    assert "frame-src http://localhost:8000" in wrong.text
    allowed = await dev.get(
        "/developers/test-embed",
        params={"origin": "http://127.0.0.1:8001/", "pool": "partner-1", "flow": "login"},
    )
    assert 'data-check="origin" data-ok="yes"' in allowed.text
    same = await dev.get(
        "/developers/test-embed", params={"origin": "http://localhost:3000", "pool": "partner-1"}
    )
    assert 'data-check="site" data-ok="yes"' in same.text
    bad = await dev.get("/developers/test-embed", params={"origin": "javascript:alert(1)"})
    assert "embed_log.origin_invalid" in bad.text and "alert(1)</" not in bad.text
    # Another tenant's or scope's pool is not offered, and asking for it falls back.
    other = await dev.get(
        "/developers/test-embed", params={"origin": "https://a.example", "pool": "business-1"}
    )
    assert "Business 1" not in other.text
