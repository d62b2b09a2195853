"""Administering endpoints: who may do what (through ``admin.access``), what a URL and a
filter must be, secrets shown once and stored sealed, every change audited; the
delivery log, resend and test events."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select

from tests.admin.keys import MakeKey
from tests.conftest import Harness
from tests.webhooks.conftest import Hooks, Receiver
from widget_server.admin import access, apps, audit, users
from widget_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from widget_server.models import (
    Tenant,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from widget_server.services import Services
from widget_server.users.inputs import NewUser
from widget_server.webhooks import deliveries, manage, queue, signing
from widget_server.webhooks.manage import EndpointPatch, NewEndpoint

URL = "https://hooks.partner.example/in"


def problems(refused: pytest.ExceptionInfo[InvalidInput]) -> dict[str, list[str]]:
    return {k: [m.id for m in v] for k, v in refused.value.messages.items()}


def with_settings(harness: Harness, **settings: Any) -> Services:
    services: Services = harness.web.services
    return replace(services, settings=replace(services.settings, **settings))


async def counted(h: Harness, model: Any) -> int:
    async with h.web.services.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


# --- creating and the rules ---------------------------------------------------------------


async def test_created_with_a_secret_shown_once_and_stored_sealed(
    harness: Harness, hooks: Hooks
) -> None:
    made = await hooks.endpoint(URL, description=" Orders ", event_types=["login.failed"])
    assert made.secret.startswith("whsec_") and len(made.secret) > 40
    assert made.endpoint.description == "Orders" and made.endpoint.event_types == ["login.failed"]
    async with harness.web.services.db.read() as session:
        row = await session.get(WebhookEndpoint, made.endpoint.id)
    assert row is not None and made.secret not in row.secret
    key = harness.settings.secret_key
    assert signing.unseal(key, row.id, row.secret) == made.secret
    with pytest.raises(InvalidTag):  # sealed to this endpoint's id
        signing.unseal(key, "another-endpoint", row.secret)
    shown = await manage.get_endpoint(harness.web.services, hooks.operator.actor, row.id)
    assert shown == made.endpoint and "secret" not in shown.__struct_fields__


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://hooks.partner.example/in", ["webhook.url_https"]),
        ("https://user:pw@hooks.partner.example/in", ["webhook.url_credentials"]),
        ("https://hooks.partner.example/in#x", ["webhook.url_invalid"]),
        ("https://10.0.0.5/in", ["webhook.url_private"]),
        ("https://169.254.169.254/latest/meta-data", ["webhook.url_private"]),
        ("https://[::1]:8443/in", ["webhook.url_private"]),
        ("https://[::ffff:127.0.0.1]/in", ["webhook.url_private"]),
        ("https://224.0.0.1/in", ["webhook.url_private"]),
        ("https://localhost/in", ["webhook.url_private"]),
        ("https://api.localhost/in", ["webhook.url_private"]),
        ("http://127.0.0.1:8080/in", ["webhook.url_https", "webhook.url_private"]),
        ("ftp://hooks.partner.example/in", ["webhook.url_invalid"]),
        ("https:///in", ["webhook.url_invalid"]),
        ("not a url", ["webhook.url_invalid"]),
        ("https://h.example:99999/", ["webhook.url_invalid"]),
        (" https://hooks.partner.example/in", ["webhook.url_invalid"]),
        ("https://hooks.partner.example/" + "a" * 2048, ["webhook.url_invalid"]),
    ],
)
async def test_urls_refused_in_production(
    harness: Harness, hooks: Hooks, url: str, expected: list[str]
) -> None:
    strict = with_settings(harness, webhooks_allow_private=False)
    new = NewEndpoint(url=url, pool_id="partner-1")
    with pytest.raises(InvalidInput) as refused:
        await manage.create_endpoint(strict, hooks.operator.actor, new)
    assert problems(refused) == {"url": expected}
    assert await counted(harness, WebhookEndpoint) == 0


async def test_urls_accepted_in_production(harness: Harness, hooks: Hooks) -> None:
    strict = with_settings(harness, webhooks_allow_private=False)
    for url in ("https://hooks.partner.example/in?key=1", "https://93.184.215.14:8443/x"):
        new = NewEndpoint(url=url, pool_id="partner-1")
        assert (await manage.create_endpoint(strict, hooks.operator.actor, new)).endpoint.url == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/in", []),
        ("http://localhost:8080/in", []),
        ("http://[::1]:8080/in", []),
        ("https://10.0.0.5/in", []),
        ("http://10.0.0.5/in", ["webhook.url_https"]),  # plain http: loopback only
        ("http://hooks.partner.example/in", ["webhook.url_https"]),
    ],
)
async def test_urls_in_development(
    harness: Harness, hooks: Hooks, url: str, expected: list[str]
) -> None:
    new = NewEndpoint(url=url, pool_id="partner-1")
    try:
        await manage.create_endpoint(harness.web.services, hooks.operator.actor, new)
        found: list[str] = []
    except InvalidInput as refused:
        found = [m.id for m in refused.messages["url"]]
    assert found == expected


async def test_an_endpoint_belongs_to_one_pool_or_one_app(hooks: Hooks) -> None:
    for owners in ({}, {"pool_id": "partner-1", "app_id": "shop"}):
        with pytest.raises(InvalidInput) as refused:
            await manage.create_endpoint(
                hooks.services, hooks.operator.actor, NewEndpoint(url=URL, **owners)
            )
        assert problems(refused) == {"pool_id": ["webhook.owner"]}


async def test_event_filters_are_known_types_in_one_order(hooks: Hooks) -> None:
    with pytest.raises(InvalidInput) as refused:
        await hooks.endpoint(URL, event_types=["user.registered", "user.exploded"])
    assert problems(refused) == {"event_types": ["webhook.unknown_event"]}
    assert refused.value.messages["event_types"][0].params["value"] == "user.exploded"
    made = await hooks.endpoint(URL, event_types=["login.failed", "user.updated", "login.failed"])
    assert made.endpoint.event_types == ["user.updated", "login.failed"]


async def test_at_most_twenty_endpoints_per_pool(hooks: Hooks) -> None:
    for n in range(manage.MAX_PER_OWNER):
        await hooks.endpoint(f"{URL}/{n}")
    with pytest.raises(InvalidInput) as refused:
        await hooks.endpoint(URL)
    assert problems(refused) == {"pool_id": ["webhook.too_many"]}
    await hooks.endpoint(URL, pool_id="partner-2")  # another pool has room


async def test_changing_an_endpoint(hooks: Hooks) -> None:
    made = await hooks.endpoint(URL)
    changed = await manage.update_endpoint(
        hooks.services,
        hooks.operator.actor,
        made.endpoint.id,
        EndpointPatch(url=URL + "/v2", event_types=["user.deleted"], enabled=False),
    )
    assert (changed.url, changed.event_types, changed.enabled) == (
        URL + "/v2",
        ["user.deleted"],
        False,
    )
    with pytest.raises(InvalidInput) as refused:
        await manage.update_endpoint(
            hooks.services,
            hooks.operator.actor,
            made.endpoint.id,
            EndpointPatch(url="http://x.example"),
        )
    assert problems(refused) == {"url": ["webhook.url_https"]}


# --- who may -----------------------------------------------------------------------------


async def test_a_pool_admin_manages_only_its_pools_endpoints(
    harness: Harness, hooks: Hooks, make_key: MakeKey
) -> None:
    admin = await make_key("pool_admin", "partner-1")
    services = harness.web.services
    mine = await manage.create_endpoint(
        services, admin.actor, NewEndpoint(url=URL, pool_id="partner-1")
    )
    theirs = await hooks.endpoint(URL, pool_id="partner-2")
    with pytest.raises(NotFound):
        await manage.create_endpoint(
            services, admin.actor, NewEndpoint(url=URL, pool_id="partner-2")
        )
    for call in (
        partial(manage.get_endpoint, services, admin.actor, theirs.endpoint.id),
        partial(manage.rotate_secret, services, admin.actor, theirs.endpoint.id),
        partial(manage.delete_endpoint, services, admin.actor, theirs.endpoint.id),
        partial(deliveries.list_deliveries, services, admin.actor, theirs.endpoint.id),
        partial(deliveries.send_test, services, admin.actor, theirs.endpoint.id),
    ):
        with pytest.raises(NotFound) as refused:
            await call()
        assert refused.value.kind == "webhook_endpoint"
    assert [e.id for e in await manage.list_endpoints(services, admin.actor)] == [mine.endpoint.id]
    with pytest.raises(NotFound):
        await manage.list_endpoints(services, admin.actor, pool_id="partner-2")
    denied = [e for e in await audit.events(services.db, "acme") if e.outcome == "denied"]
    assert len(denied) == 7 and {e.actor_id for e in denied} == {admin.principal.id}


async def test_a_pool_viewer_reads_but_does_not_change(
    harness: Harness, hooks: Hooks, make_key: MakeKey
) -> None:
    viewer = await make_key("pool_viewer", "partner-1")
    services = harness.web.services
    made = await hooks.endpoint(URL)
    assert [
        e.id for e in await manage.list_endpoints(services, viewer.actor, pool_id="partner-1")
    ] == [made.endpoint.id]
    assert await deliveries.list_deliveries(services, viewer.actor, made.endpoint.id) == []
    for call in (
        partial(
            manage.create_endpoint,
            services,
            viewer.actor,
            NewEndpoint(url=URL, pool_id="partner-1"),
        ),
        partial(manage.update_endpoint, services, viewer.actor, made.endpoint.id, EndpointPatch()),
        partial(manage.rotate_secret, services, viewer.actor, made.endpoint.id),
        partial(deliveries.send_test, services, viewer.actor, made.endpoint.id),
    ):
        with pytest.raises(Forbidden):
            await call()


async def test_an_apps_endpoints_need_a_tenant_wide_principal(
    harness: Harness, hooks: Hooks, make_key: MakeKey
) -> None:
    services = harness.web.services
    app = (
        await apps.create_app(
            services,
            hooks.operator.actor,
            apps.NewApp(name="Shop", kind="public", pool_ids=["partner-1"]),
        )
    ).app
    made = await hooks.endpoint(URL, app_id=app.id)
    assert made.endpoint.app_id == app.id and made.endpoint.pool_id is None
    admin = await make_key("pool_admin", "partner-1")
    with pytest.raises(NotFound):
        await manage.create_endpoint(services, admin.actor, NewEndpoint(url=URL, app_id=app.id))
    with pytest.raises(NotFound):
        await manage.get_endpoint(services, admin.actor, made.endpoint.id)
    assert await manage.list_endpoints(services, admin.actor) == []
    with pytest.raises(NotFound):
        await hooks.endpoint(URL, app_id="no-such-app")
    listed = await manage.list_endpoints(services, hooks.operator.actor, app_id=app.id)
    assert [e.id for e in listed] == [made.endpoint.id]


async def test_another_tenants_endpoint_does_not_exist(
    harness: Harness, hooks: Hooks, make_key: MakeKey
) -> None:
    made = await hooks.endpoint(URL)
    async with harness.web.services.db.write() as session:
        session.add(Tenant(id="other", name="Other", theme={}, created_at=harness.clock.now()))
    stranger = await make_key("tenant_admin", tenant_id="other")
    with pytest.raises(NotFound):
        await manage.get_endpoint(harness.web.services, stranger.actor, made.endpoint.id)
    assert await manage.list_endpoints(harness.web.services, stranger.actor) == []


def test_adding_the_developer_role_later_is_one_table_entry() -> None:
    """The checks read ``PERMISSIONS``: a role with these two actions manages webhooks."""
    for role, allowed in access.PERMISSIONS.items():
        assert ("webhooks.write" in allowed) <= ("webhooks.read" in allowed), role
    assert "webhooks.write" in access.PERMISSIONS["pool_admin"]
    assert "webhooks.write" not in access.PERMISSIONS["pool_viewer"]


# --- secrets and the audit trail ---------------------------------------------------------


async def test_rotation_grace_is_bounded_and_a_second_rotation_retires_the_oldest(
    harness: Harness, hooks: Hooks
) -> None:
    made = await hooks.endpoint(URL)
    for grace in (-1, 7 * 86400 + 1):
        with pytest.raises(InvalidInput) as refused:
            await manage.rotate_secret(
                hooks.services, hooks.operator.actor, made.endpoint.id, grace
            )
        assert problems(refused) == {"grace_seconds": ["webhook.grace"]}
    first = await manage.rotate_secret(hooks.services, hooks.operator.actor, made.endpoint.id)
    second = await manage.rotate_secret(hooks.services, hooks.operator.actor, made.endpoint.id)
    async with harness.web.services.db.read() as session:
        row = await session.get(WebhookEndpoint, made.endpoint.id)
    assert row is not None and row.previous_secret is not None
    key = harness.settings.secret_key
    assert signing.unseal(key, row.id, row.secret) == second.secret
    assert signing.unseal(key, row.id, row.previous_secret) == first.secret


async def test_every_change_is_audited_without_secrets(
    harness: Harness, hooks: Hooks, receiver: Receiver
) -> None:
    services, actor = hooks.services, hooks.operator.actor
    made = await hooks.endpoint(receiver.url("/in?token=partner-secret"))
    await manage.update_endpoint(services, actor, made.endpoint.id, EndpointPatch(description="x"))
    rotated = await manage.rotate_secret(services, actor, made.endpoint.id)
    sent = await deliveries.send_test(services, actor, made.endpoint.id)
    await deliveries.resend(services, actor, made.endpoint.id, sent.id)
    await manage.delete_endpoint(services, actor, made.endpoint.id)
    trail = [
        e for e in await audit.events(services.db, "acme") if e.target_type == "webhook_endpoint"
    ]
    assert [e.action for e in reversed(trail)] == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate_secret",
        "webhook.test",
        "webhook.resend",
        "webhook.delete",
    ]
    assert {e.target_id for e in trail} == {made.endpoint.id}
    assert trail[-1].details == {"fields": ["url"], "host": "127.0.0.1"}
    text = str([e.details for e in trail])
    for secret in (made.secret, rotated.secret, "partner-secret", "whsec_"):
        assert secret not in text
    # The endpoint's deliveries, attempts went with it; the events stay until purged.
    assert await counted(harness, WebhookDelivery) == 0


# --- the delivery log, resend, test --------------------------------------------------------


async def test_a_test_event_goes_to_that_endpoint_only_and_a_resend_repeats_its_id(
    harness: Harness, hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url("/a"), event_types=["login.failed"])
    await hooks.endpoint(receiver.url("/b"))
    sent = await deliveries.send_test(hooks.services, hooks.operator.actor, made.endpoint.id)
    assert (sent.event_type, sent.trigger, sent.status) == ("webhook.test", "test", "pending")
    await hooks.drain()
    [request] = receiver.at("/a")
    payload = request.verify(made.secret)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["endpoint_id"] == made.endpoint.id
    assert receiver.at("/b") == []

    again = await deliveries.resend(hooks.services, hooks.operator.actor, made.endpoint.id, sent.id)
    assert again.id != sent.id and again.trigger == "resend"
    assert again.message_id == sent.message_id
    await hooks.drain()
    [_, resent] = receiver.at("/a")
    assert resent.message_id == request.message_id and resent.body == request.body

    log = await deliveries.list_deliveries(hooks.services, hooks.operator.actor, made.endpoint.id)
    assert [(d.id, d.trigger, d.status, d.attempts) for d in log] == [
        (again.id, "resend", "succeeded", 1),
        (sent.id, "test", "succeeded", 1),
    ]
    older = await deliveries.list_deliveries(
        hooks.services, hooks.operator.actor, made.endpoint.id, before_id=again.id
    )
    assert [d.id for d in older] == [sent.id]


async def test_the_log_shows_attempts_and_hides_data_from_roles_without_user_access(
    harness: Harness, hooks: Hooks, receiver: Receiver, make_key: MakeKey, monkeypatch: Any
) -> None:
    made = await hooks.endpoint(receiver.url())
    receiver.answers["/hook"] = 500
    await users.create_user(
        hooks.services, hooks.operator.actor, "partner-1", NewUser(email="log@example.com")
    )
    await hooks.drain()
    harness.clock.advance(5)
    receiver.answers["/hook"] = 200
    await hooks.drain()
    [delivery] = await deliveries.list_deliveries(
        hooks.services, hooks.operator.actor, made.endpoint.id
    )
    detail = await deliveries.get_delivery(
        hooks.services, hooks.operator.actor, made.endpoint.id, delivery.id
    )
    assert [(a.number, a.status_code) for a in detail.attempts] == [(1, 500), (2, 200)]
    assert detail.attempts[0].request_excerpt is not None
    assert "log@example.com" in detail.attempts[0].request_excerpt

    # A role that may manage webhooks but not read users (the coming developer role).
    viewer = await make_key("pool_viewer", "partner-1")
    reduced = access.PERMISSIONS["pool_viewer"] - {"users.read"}
    monkeypatch.setitem(access.PERMISSIONS, "pool_viewer", reduced)
    hidden = await deliveries.get_delivery(
        hooks.services, viewer.actor, made.endpoint.id, delivery.id
    )
    assert [a.request_excerpt for a in hidden.attempts] == [None, None]
    assert hidden.attempts[1].response_excerpt is not None

    with pytest.raises(NotFound):
        await deliveries.get_delivery(hooks.services, viewer.actor, made.endpoint.id, 999999)
    with pytest.raises(InvalidInput) as refused:
        await deliveries.list_deliveries(
            hooks.services, hooks.operator.actor, made.endpoint.id, status="lost", limit=0
        )
    assert problems(refused) == {"status": ["form.enum"], "limit": ["admin.limit"]}


async def test_a_disabled_endpoint_gets_no_test_and_no_resend(hooks: Hooks) -> None:
    made = await hooks.endpoint(URL, enabled=False)
    with pytest.raises(Conflict) as refused:
        await deliveries.send_test(hooks.services, hooks.operator.actor, made.endpoint.id)
    assert refused.value.message_id == "webhook.disabled"


async def test_finished_deliveries_are_purged_after_thirty_days(
    harness: Harness, hooks: Hooks, receiver: Receiver
) -> None:
    made = await hooks.endpoint(receiver.url())
    await deliveries.send_test(hooks.services, hooks.operator.actor, made.endpoint.id)
    await hooks.drain()
    db, clock = harness.web.services.db, harness.clock
    assert await db.run_write(partial(queue.purge, now=clock.now())) == 0
    clock.advance(queue.KEEP_FINISHED.total_seconds() + 1)
    assert await db.run_write(partial(queue.purge, now=clock.now())) == 2
    for model in (WebhookDelivery, WebhookAttempt, WebhookEvent):
        assert await counted(harness, model) == 0
