"""The embed log: refused frame origins counted in memory and written in batches, bounded
per pool and in memory, shown in the developer portal with a one-click "allow"."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Harness, rows
from tests.web.portal_client import (
    PortalClient,
    message_ids,
    portal_client,
    seed_admins,
    signed_in,
)
from widget_server.admin import apps
from widget_server.admin.access import Actor, Principal
from widget_server.admin.apps import NewApp
from widget_server.developers import embed_log
from widget_server.developers.embed_log import MAX_PENDING, MAX_PER_POOL, EmbedLog
from widget_server.models import AuditEvent, EmbedRefusal
from widget_server.seed import DEMO_ADMINS

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")


async def check(h: Harness, origin: str, pool: str = "partner-1", **params: str) -> dict:
    response = await h.client.get(
        f"/embed/{pool}/frame-check", params={"parent_origin": origin, **params}
    )
    assert response.status_code == 200
    body: dict = response.json()
    return body


def log_of(h: Harness) -> EmbedLog:
    found: EmbedLog = h.app.state.embed_log
    return found


async def test_a_flood_of_refusals_is_one_row_with_the_count(harness: Harness) -> None:
    for _ in range(50):
        assert (await check(harness, "https://wrong.example"))["allowed"] is False
    await check(harness, "http://127.0.0.1:8001")  # allowed: not logged
    await check(harness, "https://wrong.example", pool="no-such-pool")  # no pool: not logged
    # The first refusal was written at once, the rest wait for the next write.
    assert [(r.origin, r.count) for r in await rows(harness, EmbedRefusal)] == [
        ("https://wrong.example", 1)
    ]
    harness.clock.advance(embed_log.FLUSH_SECONDS)
    await check(harness, "https://wrong.example")
    [row] = await rows(harness, EmbedRefusal)
    assert (row.pool_id, row.origin, row.count) == ("partner-1", "https://wrong.example", 51)
    assert row.last_seen == harness.clock.now() and row.first_seen < row.last_seen


async def test_memory_and_table_are_bounded(harness: Harness) -> None:
    log = EmbedLog()
    now = harness.clock.now()
    for i in range(MAX_PENDING + 10):
        log.note("partner-1", f"https://site-{i}.example", now + timedelta(seconds=i))
    assert log.dropped == 10
    written = await log.flush(harness.web.services.db, now)
    assert written == MAX_PENDING
    kept = await rows(harness, EmbedRefusal)
    assert len(kept) == MAX_PER_POOL
    # The most recently seen stay.
    newest = {f"https://site-{i}.example" for i in range(MAX_PENDING - MAX_PER_POOL, MAX_PENDING)}
    assert {r.origin for r in kept} == newest


async def test_an_app_login_is_checked_against_the_app_origins(harness: Harness) -> None:
    await seed_admins(harness)
    actor = Actor(
        principal=Principal(
            id="op", tenant_id="acme", pool_id=None, role="tenant_admin", kind="person", name="Op"
        )
    )
    await apps.create_app(
        harness.web.services,
        actor,
        NewApp(
            id="shop",
            name="Shop",
            kind="public",
            pool_ids=["partner-1"],
            allowed_origins=["https://shop.example"],
        ),
    )
    assert (await check(harness, "https://shop.example", client_id="shop"))["allowed"] is True
    # An active app's embed origins may frame the widgets of the pools it accepts too
    # (PoolView.frame_origins): a developer allows its site on its app.
    assert (await check(harness, "https://shop.example"))["allowed"] is True
    assert (await check(harness, "https://elsewhere.example"))["allowed"] is False
    assert (await check(harness, "http://127.0.0.1:8001", client_id="shop"))["allowed"] is False


async def _developer(h: Harness) -> PortalClient:
    await seed_admins(h)
    client = PortalClient(h, portal_client(h))
    response = await client.client.post(
        "/developers/login", data={"email": DEVELOPER.email, "password": DEVELOPER.password}
    )
    assert response.status_code == 303
    return client


async def test_the_portal_shows_refusals_and_allows_an_origin_for_an_app(
    harness: Harness,
) -> None:
    dev = await _developer(harness)
    try:
        empty = await dev.get("/developers/embed-log")
        assert empty.status_code == 200 and "No refused origins" in empty.text
        for _ in range(3):
            await check(harness, "https://partner-shop.example")
        await check(harness, "https://other.example", pool="business-1")  # not its pool
        page = await dev.get("/developers/embed-log")
        assert 'data-refusal="partner-1 https://partner-shop.example"' in page.text
        assert '<td class="adm-num" data-count>3</td>' in page.text
        assert "other.example" not in page.text
        assert "Register an app" in page.text  # no app yet to allow it for
        apps_page = await dev.get("/developers/apps")
        created = await dev.post(
            "/developers/apps",
            {
                "name": "Partner shop",
                "id": "partner-shop",
                "kind": "public",
                "pool_ids": "partner-1",
            },
        )
        assert created.status_code == 200, apps_page.status_code
        page = await dev.get("/developers/embed-log")
        assert 'value="partner-shop"' in page.text
        allowed = await dev.post(
            "/developers/embed-log/allow",
            {
                "pool_id": "partner-1",
                "origin": "https://partner-shop.example",
                "app_id": "partner-shop",
            },
        )
        assert allowed.status_code == 200 and "embed_log.allowed" in message_ids(allowed)
        assert "partner-shop.example" not in allowed.text.split("refusals-table")[1]
        check_now = await check(harness, "https://partner-shop.example", client_id="partner-shop")
        assert check_now["allowed"] is True
        audit = [e.action for e in await rows(harness, AuditEvent) if e.target_id == "partner-shop"]
        assert audit == ["app.create", "app.update"]
        # Another pool's refusal, or an app outside the scope, is a 404.
        outside = await dev.post(
            "/developers/embed-log/allow",
            {"pool_id": "business-1", "origin": "https://other.example", "app_id": "partner-shop"},
        )
        assert outside.status_code == 404
        bad = await dev.post(
            "/developers/embed-log/allow",
            {"pool_id": "partner-1", "origin": "javascript:alert(1)", "app_id": "partner-shop"},
        )
        assert bad.status_code == 422 and "embed_log.origin_invalid" in message_ids(bad)
        forged = await dev.post(
            "/developers/embed-log/allow",
            {"pool_id": "partner-1", "origin": "https://x.example", "app_id": "partner-shop"},
            csrf="nope",
        )
        assert forged.status_code == 403
    finally:
        await dev.client.aclose()


async def test_the_operator_sees_a_pools_refused_origins_on_its_page(harness: Harness) -> None:
    await seed_admins(harness)
    await check(harness, "https://refused.example")
    operator = await signed_in(harness)
    try:
        page = await operator.get("/admin/pools/partner-1")
        assert page.status_code == 200
        assert "<code data-refused-origin>https://refused.example</code> (1 time," in page.text
        other = await operator.get("/admin/pools/business-1")
        assert "refused.example" not in other.text
    finally:
        await operator.client.aclose()
