"""The operator portal's Webhooks tab (``/admin/pools/{pool}/webhooks``): a tenant admin
and a pool admin manage the endpoints of the pools they administer with the developer
portal's pages; a test event arrives verified (``standardwebhooks``) and is resent from
the log; bad input is refused by field; other pools and other pools' endpoints are 404s
with an audit entry; viewers read only; CSRF is checked before anything happens."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import select
from standardwebhooks import Webhook

from tests.conftest import Harness, rows
from tests.web.conftest import Login
from tests.web.portal_client import LEAD, OPERATOR, PortalClient, field_errors, message_ids
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401 - a fixture
from widget_server.admin import principals
from widget_server.admin.access import Actor, Principal
from widget_server.admin.principals import NewAdmin
from widget_server.models import AuditEvent, WebhookEndpoint
from widget_server.seed import DemoAdmin
from widget_server.webhooks import manage
from widget_server.webhooks.manage import NewEndpoint

B1 = "/admin/pools/business-1/webhooks"
SYSTEM = Actor(
    principal=Principal(
        id="system", tenant_id="acme", pool_id=None, role="tenant_admin", kind="api_key", name="t"
    )
)


def _secret(page: str) -> str:
    found = re.search(r"data-webhook-secret id=\"webhook-secret\">([^<]+)<", page)
    assert found is not None, "no secret on the page"
    return found.group(1)


def _endpoint_id(page: str, base: str = B1) -> str:
    found = re.search(rf'action="{re.escape(base)}/([0-9a-f-]{{36}})/test"', page)
    assert found is not None, "no endpoint on the page"
    return found.group(1)


async def _create(client: PortalClient, url: str, base: str = B1, **fields: object) -> str:
    await client.get(base)
    created = await client.post(base, {"url": url, **fields})
    assert created.status_code == 200, message_ids(created)
    assert "webhook.created" in message_ids(created)
    return created.text


async def _denied(h: Harness, target_id: str) -> list[AuditEvent]:
    found = await rows(h, AuditEvent)
    return [e for e in found if e.outcome == "denied" and e.target_id == target_id]


async def _endpoint_rows(h: Harness) -> dict[str, WebhookEndpoint]:
    async with h.web.services.db.read() as session:
        return {e.id: e for e in (await session.execute(select(WebhookEndpoint))).scalars()}


async def test_the_tab_is_in_the_pool_pages_and_lists_the_pools_endpoints(
    h: Harness, login: Login
) -> None:
    mine = await manage.create_endpoint(
        h.web.services, SYSTEM, NewEndpoint(url="https://b1.example/in", pool_id="business-1")
    )
    other = await manage.create_endpoint(
        h.web.services, SYSTEM, NewEndpoint(url="https://p1.example/in", pool_id="partner-1")
    )
    op = await login(OPERATOR)
    users = await op.get("/admin/pools/business-1/users")
    assert f'href="{B1}"' in users.text  # the sidebar and the pool's tabs
    page = await op.get(B1)
    assert page.status_code == 200
    assert f'data-endpoint="{mine.endpoint.id}"' in page.text
    assert other.endpoint.id not in page.text and "p1.example" not in page.text
    assert 'class="adm-tab is-active" href="/admin/pools/business-1/webhooks"' in page.text
    # The owner is the pool of the URL; nothing else is offered.
    assert re.findall(r'name="owner" value="([^"]+)"', page.text) == ["pool:business-1"]
    assert "<select class=\"adm-input\" name=\"owner\"" not in page.text


async def test_a_pool_admin_adds_edits_rotates_and_deletes_its_pools_endpoint(
    h: Harness, login: Login
) -> None:
    lead = await login(LEAD)
    # Whatever the form says, the endpoint belongs to the pool of the URL.
    page = await _create(
        lead,
        "https://crm.business-1.example/hooks",
        owner="pool:partner-1",
        description="CRM",
        event_types=["user.registered"],
    )
    secret, endpoint_id = _secret(page), _endpoint_id(page)
    assert secret.startswith("whsec_")
    stored = (await _endpoint_rows(h))[endpoint_id]
    assert stored.pool_id == "business-1" and stored.event_types == ["user.registered"]
    base = f"{B1}/{endpoint_id}"
    shown = await lead.get(base)
    assert secret not in shown.text  # shown once
    assert 'data-language="python"' in shown.text  # the verification snippets

    saved = await lead.post(base, {"url": "https://crm.business-1.example/v2", "description": "v2"})
    assert saved.status_code == 303 and saved.headers["location"] == base + "?done=saved"
    off = await lead.post(base + "/enabled", {})
    assert off.status_code == 303
    assert (await _endpoint_rows(h))[endpoint_id].enabled is False
    rotated = await lead.post(base + "/rotate-secret", {"grace_seconds": "3600"})
    assert rotated.status_code == 200 and "webhook.rotated" in message_ids(rotated)
    assert _secret(rotated.text) != secret
    gone = await lead.post(base + "/delete", {})
    assert gone.status_code == 303 and gone.headers["location"] == B1 + "?done=deleted"
    assert endpoint_id not in await _endpoint_rows(h)
    changes = [
        (e.action, e.actor_name, e.pool_id)
        for e in await rows(h, AuditEvent)
        if e.target_id == endpoint_id and e.outcome == "ok"
    ]
    assert [c[0] for c in changes] == [
        "webhook.create",
        "webhook.update",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.delete",
    ]
    assert {(name, pool) for _, name, pool in changes} == {(LEAD.name, "business-1")}


async def test_bad_input_is_refused_by_field_and_kept(h: Harness, login: Login) -> None:
    op = await login(OPERATOR)
    await op.get(B1)
    bad = await op.post(
        B1, {"url": "http://crm.example/hooks", "event_types": ["user.nope"], "description": "d"}
    )
    assert bad.status_code == 422
    assert field_errors(bad, "url") == ["webhook.url_https"]
    assert field_errors(bad, "event_types") == ["webhook.unknown_event"]
    assert 'value="http://crm.example/hooks"' in bad.text  # what was typed stays
    long = await op.post(B1, {"url": "https://crm.example/hooks", "description": "x" * 201})
    assert long.status_code == 422 and field_errors(long, "description")
    assert await _endpoint_rows(h) == {}

    page = await _create(op, "https://crm.example/hooks")
    base = f"{B1}/{_endpoint_id(page)}"
    await op.get(base)
    edit = await op.post(base, {"url": "https://10.0.0.1/x#frag"})
    assert edit.status_code == 422 and field_errors(edit, "url")
    grace = await op.post(base + "/rotate-secret", {"grace_seconds": "99999999"})
    assert grace.status_code == 422 and field_errors(grace, "grace_seconds") == ["webhook.grace"]


async def test_a_test_event_arrives_verified_and_is_resent_from_the_log(
    h: Harness,
    login: Login,
    receiver: Receiver,  # noqa: F811 - the fixture
) -> None:
    op = await login(OPERATOR)
    page = await _create(op, receiver.url("/b1"))
    secret, endpoint_id = _secret(page), _endpoint_id(page)
    base = f"{B1}/{endpoint_id}"
    await op.get(base)
    sent = await op.post(base + "/test", {})
    assert sent.status_code == 303 and sent.headers["location"] == base + "?done=test"
    (first,) = await receiver.wait_for("/b1")
    payload = Webhook(secret).verify(first.body, first.headers)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == endpoint_id
    log = await _settled(op, base)
    row = re.search(r'<tr data-delivery="(\d+)" data-status="succeeded">', log.text)
    assert row is not None
    delivery_id = row.group(1)
    detail = await op.get(f"{base}/deliveries/{delivery_id}")
    assert detail.status_code == 200 and "HTTP 200" in detail.text
    resent = await op.post(f"{base}/deliveries/{delivery_id}/resend", {})
    assert resent.status_code == 303 and resent.headers["location"] == base + "?done=resent"
    _, second = await receiver.wait_for("/b1", 2)
    assert second.message_id == first.message_id
    Webhook(secret).verify(second.body, second.headers)
    actions = [e.action for e in await rows(h, AuditEvent) if e.target_id == endpoint_id]
    assert "webhook.test" in actions and "webhook.resend" in actions


async def _settled(client: PortalClient, base: str) -> httpx.Response:
    for _ in range(200):
        page = await client.get(base)
        if 'data-status="succeeded"' in page.text:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery was not recorded")


async def test_other_pools_and_their_endpoints_are_not_found_and_audited(
    h: Harness, login: Login
) -> None:
    p1 = await manage.create_endpoint(
        h.web.services, SYSTEM, NewEndpoint(url="https://p1.example/in", pool_id="partner-1")
    )
    p1_id = p1.endpoint.id
    lead = await login(LEAD)
    await lead.get(B1)
    other_pool = await lead.get("/admin/pools/partner-1/webhooks")
    assert other_pool.status_code == 404
    assert await _denied(h, "partner-1")
    for path in (f"/admin/pools/partner-1/webhooks/{p1_id}", f"{B1}/{p1_id}"):
        assert (await lead.get(path)).status_code == 404
    deleted = await lead.post(f"{B1}/{p1_id}/delete", {})
    assert deleted.status_code == 404
    assert p1_id in await _endpoint_rows(h)  # untouched
    assert len(await _denied(h, p1_id)) >= 2
    # A tenant admin reaches every pool, but an endpoint only under its own pool's URL.
    op = await login(OPERATOR)
    assert (await op.get(f"/admin/pools/partner-1/webhooks/{p1_id}")).status_code == 200
    assert (await op.get(f"{B1}/{p1_id}")).status_code == 404
    assert (await op.post(f"{B1}/{p1_id}/delete", {})).status_code == 404
    assert p1_id in await _endpoint_rows(h)


async def test_posts_need_the_csrf_token(h: Harness, login: Login) -> None:
    op = await login(OPERATOR)
    page = await _create(op, "https://crm.example/hooks")
    endpoint_id = _endpoint_id(page)
    forged = await op.post(B1, {"url": "https://evil.example/in"}, csrf="")
    assert forged.status_code == 403 and "admin.csrf" in message_ids(forged)
    wrong = await op.post(f"{B1}/{endpoint_id}/delete", {}, csrf="not-the-token")
    assert wrong.status_code == 403
    assert list(await _endpoint_rows(h)) == [endpoint_id]
    # A CSRF refusal happens before the pool is looked up: no audit trail to fill.
    outside = await op.post("/admin/pools/nowhere/webhooks", {"url": "https://x.example"}, csrf="")
    assert outside.status_code == 403
    assert await _denied(h, "nowhere") == []


async def test_a_viewer_reads_and_cannot_change(h: Harness, login: Login) -> None:
    made = await manage.create_endpoint(
        h.web.services, SYSTEM, NewEndpoint(url="https://b1.example/in", pool_id="business-1")
    )
    viewer = DemoAdmin(
        email="viewer@business-1.example",
        name="Vic Viewer",
        role="pool_viewer",
        pool_id="business-1",
        password="viewer-demo-password-2026",
    )
    await principals.create_admin(
        h.web.services,
        SYSTEM,
        NewAdmin(
            kind="person",
            role="pool_viewer",
            name=viewer.name,
            pool_id="business-1",
            email=viewer.email,
            password=viewer.password,
        ),
    )
    client = await login(viewer)
    page = await client.get(B1)
    assert page.status_code == 200 and made.endpoint.id in page.text
    assert 'id="new-endpoint"' not in page.text
    one = await client.get(f"{B1}/{made.endpoint.id}")
    assert one.status_code == 200 and 'id="settings"' not in one.text
    refused = await client.post(B1, {"url": "https://x.example/in"})
    assert refused.status_code == 403
    gone = await client.post(f"{B1}/{made.endpoint.id}/delete", {})
    assert gone.status_code == 403
    assert made.endpoint.id in await _endpoint_rows(h)
