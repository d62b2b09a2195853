"""The developer portal's webhook pages: the demo developer of Partner 1 adds an endpoint
for its pool (secret shown once), edits, disables, rotates and deletes it, sends a test
event that a real receiver verifies with ``standardwebhooks``, reads the delivery log
and resends; another pool's endpoint is a 404 with an audit entry; CSRF is checked."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from tests.conftest import Harness
from tests.web.portal_client import PortalClient, field_errors, message_ids, portal_client
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401 - a fixture
from widget_server.admin.access import Actor, Principal
from widget_server.models import AuditEvent, WebhookEndpoint
from widget_server.seed import DEMO_ADMINS
from widget_server.webhooks import manage
from widget_server.webhooks.manage import NewEndpoint

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")
OPERATOR = Actor(
    principal=Principal(
        id="operator",
        tenant_id="acme",
        pool_id=None,
        role="tenant_admin",
        kind="person",
        name="Operator",
    )
)


@pytest.fixture
async def dev(h: Harness) -> AsyncIterator[PortalClient]:
    client = PortalClient(h, portal_client(h))
    response = await client.client.post(
        "/developers/login", data={"email": DEVELOPER.email, "password": DEVELOPER.password}
    )
    assert response.status_code == 303
    await client.follow(response)
    yield client
    await client.client.aclose()


def _secret(page: str) -> str:
    found = re.search(r"data-webhook-secret id=\"webhook-secret\">([^<]+)<", page)
    assert found is not None, "no secret on the page"
    return found.group(1)


def _endpoint_id(page: str) -> str:
    found = re.search(r'action="/developers/webhooks/([0-9a-f-]{36})/test"', page)
    assert found is not None
    return found.group(1)


async def _create(dev: PortalClient, url: str, **fields: str | list[str]) -> str:
    await dev.get("/developers/webhooks")
    created = await dev.post(
        "/developers/webhooks", {"owner": "pool:partner-1", "url": url, **fields}
    )
    assert created.status_code == 200, message_ids(created)
    return created.text


async def _denials(h: Harness) -> list[AuditEvent]:
    async with h.web.services.db.read() as session:
        query = select(AuditEvent).where(AuditEvent.outcome == "denied")
        return list((await session.execute(query)).scalars())


async def test_the_page_lists_only_the_developers_endpoints(h: Harness, dev: PortalClient) -> None:
    mine = await manage.create_endpoint(
        h.web.services, OPERATOR, NewEndpoint(url="https://mine.example/in", pool_id="partner-1")
    )
    other = await manage.create_endpoint(
        h.web.services, OPERATOR, NewEndpoint(url="https://other.example/in", pool_id="business-1")
    )
    page = await dev.get("/developers/webhooks")
    assert page.status_code == 200
    assert f'data-endpoint="{mine.endpoint.id}"' in page.text
    assert other.endpoint.id not in page.text and "other.example" not in page.text
    # Only its own pool is offered as an owner; no app (an app spans pools).
    assert re.findall(r'<option value="([^"]+)"', page.text) == ["pool:partner-1"]
    assert 'href="/developers/webhooks"' in page.text  # in the portal's navigation


async def test_adding_an_endpoint_shows_the_secret_once_and_the_snippets(
    h: Harness, dev: PortalClient
) -> None:
    page = await _create(
        dev,
        "http://localhost:9/hooks/widget",
        description="CRM",
        event_types=["user.registered", "user.deleted"],
    )
    secret = _secret(page)
    assert secret.startswith("whsec_")
    assert "webhook.created" in message_ids_of(page)
    endpoint_id = _endpoint_id(page)
    async with h.web.services.db.read() as session:
        row = await session.get(WebhookEndpoint, endpoint_id)
    assert row is not None and row.event_types == ["user.registered", "user.deleted"]
    assert secret not in row.secret
    # A snippet per language, with the endpoint's real path and events, never the secret.
    for language in ("python", "node", "go"):
        code = re.search(rf'<code id="verify-{language}">(.*?)</code>', page, re.S)
        assert code is not None, language
        text = html.unescape(code.group(1))
        assert '"/hooks/widget"' in text and '"user.registered"' in text, language
        assert '"user.deleted"' in text and '"login.failed"' not in text, language
        assert endpoint_id in text and secret not in text and "standardwebhooks" in text
    # Shown once: the endpoint's page never has it again.
    again = await dev.get(f"/developers/webhooks/{endpoint_id}")
    assert again.status_code == 200 and secret not in again.text
    assert "data-webhook-secret" not in again.text


def message_ids_of(page: str) -> list[str]:
    return re.findall(r'data-message-id="([a-z_.]+)"', page)


@pytest.mark.parametrize(
    ("url", "field_ids"),
    [
        ("ftp://hooks.example/in", ["webhook.url_invalid"]),
        ("http://hooks.example/in", ["webhook.url_https"]),
        ("https://user:pw@hooks.example/in", ["webhook.url_credentials"]),
        ("https://hooks.example/in#top", ["webhook.url_invalid"]),
    ],
)
async def test_bad_urls_are_refused_on_the_field(
    h: Harness, dev: PortalClient, url: str, field_ids: list[str]
) -> None:
    await dev.get("/developers/webhooks")
    refused = await dev.post(
        "/developers/webhooks",
        {"owner": "pool:partner-1", "url": url, "description": "<b>kept</b>"},
    )
    assert refused.status_code == 422
    assert field_errors(refused, "url") == field_ids
    # What was typed is kept (escaped), and nothing was stored.
    assert "&lt;b&gt;kept&lt;/b&gt;" in refused.text and "<b>kept</b>" not in refused.text
    assert await manage.list_endpoints(h.web.services, OPERATOR, pool_id="partner-1") == []


async def test_unknown_event_types_and_a_missing_owner_are_refused(
    h: Harness, dev: PortalClient
) -> None:
    await dev.get("/developers/webhooks")
    refused = await dev.post(
        "/developers/webhooks",
        {"owner": "pool:partner-1", "url": "https://h.example/in", "event_types": "user.hacked"},
    )
    assert refused.status_code == 422
    assert field_errors(refused, "event_types") == ["webhook.unknown_event"]
    no_owner = await dev.post("/developers/webhooks", {"owner": "", "url": "https://h.example/"})
    assert no_owner.status_code == 422 and field_errors(no_owner, "owner") == ["webhook.owner"]


async def test_another_pool_is_not_found_and_audited(h: Harness, dev: PortalClient) -> None:
    other = await manage.create_endpoint(
        h.web.services, OPERATOR, NewEndpoint(url="https://b.example/in", pool_id="business-1")
    )
    await dev.get("/developers/webhooks")
    before = len(await _denials(h))
    refused = await dev.post(
        "/developers/webhooks", {"owner": "pool:business-1", "url": "https://x.example/in"}
    )
    assert refused.status_code == 404
    base = f"/developers/webhooks/{other.endpoint.id}"
    assert (await dev.get(base)).status_code == 404
    for action in ("", "/delete", "/rotate-secret", "/test", "/enabled"):
        response = await dev.post(base + action, {"url": "https://x.example/"})
        assert response.status_code == 404, action
    assert (await dev.get(base + "/deliveries/1")).status_code == 404
    assert len(await _denials(h)) >= before + 7
    # Untouched.
    still = await manage.get_endpoint(h.web.services, OPERATOR, other.endpoint.id)
    assert still == other.endpoint


async def test_posts_need_the_csrf_token_and_the_same_origin(h: Harness, dev: PortalClient) -> None:
    page = await _create(dev, "https://hooks.example/in")
    endpoint_id = _endpoint_id(page)
    base = f"/developers/webhooks/{endpoint_id}"
    missing = await dev.post(base + "/delete", {}, csrf="")
    assert missing.status_code == 403 and "admin.csrf" in message_ids(missing)
    wrong = await dev.post(base + "/delete", {}, csrf="not-the-token")
    assert wrong.status_code == 403
    await dev.get(base)
    cross = await dev.post(
        base + "/delete",
        {},
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403
    created = await dev.post(
        "/developers/webhooks",
        {"owner": "pool:partner-1", "url": "https://evil.example/"},
        csrf="",
    )
    assert created.status_code == 403
    found = await manage.list_endpoints(h.web.services, OPERATOR, pool_id="partner-1")
    assert [e.id for e in found] == [endpoint_id]


async def test_edit_disable_enable_rotate_and_delete(h: Harness, dev: PortalClient) -> None:
    page = await _create(dev, "https://hooks.example/in")
    first_secret = _secret(page)
    endpoint_id = _endpoint_id(page)
    base = f"/developers/webhooks/{endpoint_id}"
    await dev.get(base)
    bad = await dev.post(base, {"url": "http://hooks.example/in", "description": "x"})
    assert bad.status_code == 422 and field_errors(bad, "url") == ["webhook.url_https"]
    saved = await dev.post(
        base,
        {"url": "https://hooks.example/v2", "description": "Orders", "event_types": "login.failed"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == base + "?done=saved"
    shown = await manage.get_endpoint(h.web.services, OPERATOR, endpoint_id)
    assert (shown.url, shown.description, shown.event_types) == (
        "https://hooks.example/v2",
        "Orders",
        ["login.failed"],
    )
    await dev.get(base)
    assert (await dev.post(base + "/enabled", {})).status_code == 303
    assert not (await manage.get_endpoint(h.web.services, OPERATOR, endpoint_id)).enabled
    page_disabled = await dev.get(base)
    assert 'data-action="enable"' in page_disabled.text
    refused = await dev.post(base + "/test", {})
    assert refused.status_code == 409 and "webhook.disabled" in message_ids(refused)
    assert (await dev.post(base + "/enabled", {"enabled": "on"})).status_code == 303
    assert (await manage.get_endpoint(h.web.services, OPERATOR, endpoint_id)).enabled

    await dev.get(base)
    bad_grace = await dev.post(base + "/rotate-secret", {"grace_seconds": "99999999"})
    assert bad_grace.status_code == 422 and "webhook.grace" in message_ids(bad_grace)
    rotated = await dev.post(base + "/rotate-secret", {"grace_seconds": "3600"})
    assert rotated.status_code == 200 and "webhook.rotated" in message_ids(rotated)
    second_secret = _secret(rotated.text)
    assert second_secret != first_secret
    until = (await manage.get_endpoint(h.web.services, OPERATOR, endpoint_id)).previous_secret_until
    assert until is not None and (until - h.clock.now()).total_seconds() == 3600
    assert "previous secret also signs until" in (await dev.get(base)).text

    deleted = await dev.post(base + "/delete", {})
    assert deleted.status_code == 303
    listed = await dev.follow(deleted)
    assert "webhook.deleted" in message_ids(listed) and endpoint_id not in listed.text
    assert (await dev.get(base)).status_code == 404


async def test_a_test_event_arrives_verified_and_can_be_resent_from_the_log(
    h: Harness,
    dev: PortalClient,
    receiver: Receiver,  # noqa: F811 - the fixture
) -> None:
    page = await _create(dev, receiver.url("/in"))
    secret, endpoint_id = _secret(page), _endpoint_id(page)
    base = f"/developers/webhooks/{endpoint_id}"
    await dev.get(base)
    sent = await dev.post(base + "/test", {})
    assert sent.status_code == 303 and sent.headers["location"] == base + "?done=test"
    (first,) = await receiver.wait_for("/in")
    # Verified by the maintained library with the secret the page showed.
    payload = Webhook(secret).verify(first.body, first.headers)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == endpoint_id

    log = await _settled(dev, base)
    row = re.search(r'<tr data-delivery="(\d+)" data-status="succeeded">', log.text)
    assert row is not None and first.message_id in log.text
    delivery_id = row.group(1)
    detail = await dev.get(f"{base}/deliveries/{delivery_id}")
    assert detail.status_code == 200
    assert 'data-attempt="1"' in detail.text and "HTTP 200" in detail.text
    assert "thanks" in detail.text  # the answer's excerpt
    # A developer may not read user data: the request's excerpt is withheld.
    assert "your role may not read user data" in detail.text

    resent = await dev.post(f"{base}/deliveries/{delivery_id}/resend", {})
    assert resent.status_code == 303 and resent.headers["location"] == base + "?done=resent"
    _, second = await receiver.wait_for("/in", 2)
    assert second.message_id == first.message_id  # the same webhook-id: drop duplicates
    Webhook(secret).verify(second.body, second.headers)
    again = await dev.get(base + "?done=resent")
    assert "webhook.resent" in message_ids(again) and "resend" in again.text
    failed_only = await dev.get(base + "?status=failed")
    assert "data-delivery=" not in failed_only.text


async def _settled(dev: PortalClient, base: str) -> httpx.Response:
    """The endpoint page once the first delivery is recorded (the worker is in the app)."""
    for _ in range(200):
        page = await dev.get(base)
        if 'data-status="succeeded"' in page.text:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery was not recorded")
