"""``/api/admin/webhooks``: endpoints, secrets, the delivery log, resend and test events
through the JSON API, scoped to the key (an endpoint outside it is a 404 and audited),
with deliveries verified by ``standardwebhooks``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from standardwebhooks import Webhook

from tests.admin.keys import AdminClient, MakeKey
from tests.admin.test_api_scope import admin_routes, fill
from tests.conftest import Harness
from tests.webhooks.conftest import Hooks, Receiver
from widget_server.admin import apps, principals
from widget_server.admin.access import Actor, Principal
from widget_server.admin.apps import NewApp
from widget_server.admin.principals import NewAdmin
from widget_server.models import AuditEvent, Pool, WebhookEndpoint

URL = "https://hooks.partner.example/in"


def ids(response: Any) -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["id"])
    return found


async def denied(h: Harness, actor_id: str) -> int:
    async with h.web.services.db.read() as session:
        query = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.outcome == "denied")
        )
        return int(await session.scalar(query) or 0)


async def test_the_whole_life_of_an_endpoint(
    harness: Harness, operator: AdminClient, hooks: Hooks, receiver: Receiver
) -> None:
    created = await operator.post(
        "/webhooks",
        json={"pool_id": "partner-1", "url": receiver.url("/in"), "description": "CRM"},
    )
    assert created.status_code == 201, created.text
    secret, endpoint = created.json()["secret"], created.json()["endpoint"]
    assert secret.startswith("whsec_") and endpoint["event_types"] == []
    one = f"/webhooks/{endpoint['id']}"
    shown = await operator.get(one)
    assert shown.json() == endpoint and secret not in shown.text and "whsec_" not in shown.text
    listed = await operator.get("/webhooks", params={"pool_id": "partner-1"})
    assert [e["id"] for e in listed.json()] == [endpoint["id"]]
    assert (await operator.get("/webhooks", params={"pool_id": "business-1"})).json() == []

    patched = await operator.patch(one, json={"event_types": ["user.registered"]})
    assert patched.status_code == 200 and patched.json()["event_types"] == ["user.registered"]

    sent = await operator.post(one + "/test")
    assert sent.status_code == 202 and sent.json()["event_type"] == "webhook.test"
    await hooks.drain()
    (first,) = receiver.at("/in")
    assert Webhook(secret).verify(first.body, first.headers)["type"] == "webhook.test"

    log = await operator.get(one + "/deliveries")
    assert [d["status"] for d in log.json()] == ["succeeded"]
    delivery = log.json()[0]
    assert delivery["message_id"] == first.message_id
    detail = await operator.get(f"{one}/deliveries/{delivery['id']}")
    attempt = detail.json()["attempts"][0]
    assert attempt["status_code"] == 200 and "webhook.test" in attempt["request_excerpt"]
    assert (await operator.get(one + "/deliveries", params={"status": "failed"})).json() == []

    resent = await operator.post(f"{one}/deliveries/{delivery['id']}/resend")
    assert resent.status_code == 202 and resent.json()["trigger"] == "resend"
    await hooks.drain()
    assert receiver.at("/in")[1].message_id == first.message_id

    rotated = await operator.post(one + "/rotate-secret", json={"grace_seconds": 60})
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != secret
    assert rotated.json()["endpoint"]["previous_secret_until"] is not None
    plain = await operator.post(one + "/rotate-secret")  # no body: the default grace
    assert plain.status_code == 200

    assert (await operator.delete(one)).status_code == 204
    assert (await operator.get(one)).status_code == 404


async def test_bad_input_answers_by_field_and_stores_nothing(
    harness: Harness, operator: AdminClient, hooks: Hooks
) -> None:
    refused = await operator.post(
        "/webhooks", json={"pool_id": "partner-1", "url": "http://hooks.partner.example/in"}
    )
    assert refused.status_code == 422 and ids(refused) == {"url": ["webhook.url_https"]}
    both = await operator.post(
        "/webhooks", json={"pool_id": "partner-1", "app_id": "x", "url": URL}
    )
    assert both.status_code == 422 and ids(both) == {"pool_id": ["webhook.owner"]}
    unknown = await operator.post("/webhooks", json={"pool_id": "partner-1", "url": URL, "x": 1})
    assert unknown.status_code == 400
    events = await operator.post(
        "/webhooks", json={"pool_id": "partner-1", "url": URL, "event_types": ["user.hacked"]}
    )
    assert events.status_code == 422 and ids(events) == {"event_types": ["webhook.unknown_event"]}
    async with harness.web.services.db.read() as session:
        count = await session.scalar(select(func.count()).select_from(WebhookEndpoint))
    assert count == 0

    made = await hooks.endpoint(URL)
    one = f"/webhooks/{made.endpoint.id}"
    grace = await operator.post(one + "/rotate-secret", json={"grace_seconds": 10**7})
    assert grace.status_code == 422 and ids(grace) == {"grace_seconds": ["webhook.grace"]}
    assert (await operator.get(one + "/deliveries", params={"status": "lost"})).status_code == 400
    assert (await operator.get(one + "/deliveries", params={"limit": 0})).status_code == 400
    assert (await operator.get(one + "/deliveries/999")).status_code == 404
    assert (await operator.post(one + "/deliveries/999/resend")).status_code == 404
    await operator.patch(one, json={"enabled": False})
    disabled = await operator.post(one + "/test")
    assert disabled.status_code == 409 and ids(disabled) == {None: ["webhook.disabled"]}


async def test_a_key_of_another_pool_gets_404_on_every_webhook_route(
    harness: Harness, operator: AdminClient, make_key: MakeKey, hooks: Hooks
) -> None:
    victim = await hooks.endpoint(URL, pool_id="business-1")
    await operator.post(f"/webhooks/{victim.endpoint.id}/test")
    delivery = (await operator.get(f"/webhooks/{victim.endpoint.id}/deliveries")).json()[0]
    values = {"endpoint_id": victim.endpoint.id, "delivery_id": str(delivery["id"])}
    outsider = await make_key("pool_admin", "partner-1")
    walked = 0
    for method, path in admin_routes(harness):
        if not path.startswith("/webhooks/"):
            continue
        before = await denied(harness, outsider.principal.id)
        body = {"url": URL} if method == "PATCH" else None
        response = await outsider.call(method, fill(path, values), json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert await denied(harness, outsider.principal.id) == before + 1, (method, path)
        walked += 1
    assert walked == 8
    # Creating for the other pool, or listing it, is the same 404.
    create = await outsider.post("/webhooks", json={"pool_id": "business-1", "url": URL})
    assert create.status_code == 404
    listing = await outsider.get("/webhooks", params={"pool_id": "business-1"})
    assert listing.status_code == 404
    assert (await outsider.get("/webhooks")).json() == []  # only its own pool's
    shown = await operator.get(f"/webhooks/{victim.endpoint.id}")
    assert shown.json()["url"] == URL and shown.json()["enabled"] is True


async def test_roles_a_viewer_reads_a_developer_writes_its_pool_but_no_app(
    harness: Harness, operator: AdminClient, make_key: MakeKey, hooks: Hooks
) -> None:
    made = await hooks.endpoint(URL)
    viewer = await make_key("pool_viewer", "partner-1")
    assert (await viewer.get(f"/webhooks/{made.endpoint.id}")).status_code == 200
    assert (await viewer.post(f"/webhooks/{made.endpoint.id}/test")).status_code == 403
    assert (await viewer.delete(f"/webhooks/{made.endpoint.id}")).status_code == 403

    developer = await make_key("developer", "partner-1")
    mine = await developer.post("/webhooks", json={"pool_id": "partner-1", "url": URL})
    assert mine.status_code == 201
    app = await apps.create_app(
        harness.web.services,
        operator.actor,
        NewApp(name="Shop", kind="confidential", pool_ids=["partner-1"]),
    )
    refused = await developer.post("/webhooks", json={"app_id": app.app.id, "url": URL})
    assert refused.status_code == 404
    tenant = await operator.post("/webhooks", json={"app_id": app.app.id, "url": URL})
    assert tenant.status_code == 201
    hidden = tenant.json()["endpoint"]["id"]
    assert (await developer.get(f"/webhooks/{hidden}")).status_code == 404


async def test_a_workspace_developer_reaches_its_workspaces_pools_only(
    harness: Harness, operator: AdminClient, hooks: Hooks
) -> None:
    services = harness.web.services
    async with services.db.read() as session:
        workspace = await session.scalar(select(Pool.workspace_id).where(Pool.id == "partner-1"))
        other = await session.scalar(select(Pool.workspace_id).where(Pool.id == "business-1"))
    assert workspace is not None and workspace != other
    created = await principals.create_admin(
        services,
        operator.actor,
        NewAdmin(kind="api_key", role="developer", name="WS dev", workspace_id=workspace),
    )
    dev = Actor(
        principal=Principal(
            id=created.admin.id,
            tenant_id="acme",
            pool_id=None,
            role="developer",
            kind="api_key",
            name="WS dev",
            workspace_id=workspace,
        )
    )
    inside = await hooks.endpoint(URL, pool_id="partner-1")
    outside = await hooks.endpoint(URL, pool_id="business-1")
    app = await apps.create_app(
        services, operator.actor, NewApp(name="Shop", kind="confidential", pool_ids=["partner-1"])
    )
    of_app = await hooks.endpoint(URL, app_id=app.app.id)
    assert created.api_key is not None
    client = AdminClient(harness, created.api_key, dev.principal)
    assert (await client.get(f"/webhooks/{inside.endpoint.id}")).status_code == 200
    for hidden in (outside.endpoint.id, of_app.endpoint.id):
        before = await denied(harness, dev.principal.id)
        assert (await client.get(f"/webhooks/{hidden}")).status_code == 404
        assert await denied(harness, dev.principal.id) == before + 1
    listed = {e["id"] for e in (await client.get("/webhooks")).json()}
    assert inside.endpoint.id in listed
    assert not listed & {outside.endpoint.id, of_app.endpoint.id}
    refused = await client.post("/webhooks", json={"app_id": app.app.id, "url": URL})
    assert refused.status_code == 404


def test_the_routes_are_in_the_openapi_document(harness: Harness) -> None:
    paths = harness.app.openapi_schema.paths or {}
    for path in (
        "/api/admin/webhooks",
        "/api/admin/webhooks/{endpoint_id}",
        "/api/admin/webhooks/{endpoint_id}/rotate-secret",
        "/api/admin/webhooks/{endpoint_id}/deliveries",
        "/api/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}",
        "/api/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend",
        "/api/admin/webhooks/{endpoint_id}/test",
    ):
        assert path in paths, path
    create = paths["/api/admin/webhooks"].post
    assert create is not None and set(create.responses or {}) >= {"201", "403", "404", "422"}
