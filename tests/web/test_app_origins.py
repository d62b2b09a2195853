"""An app's embed origins may frame the widgets of the pools it accepts: the developer
allows its site on its app (developer portal, ``/developers/apps/{id}/origins``), and the
frame check, the widget page's ``frame-ancestors`` and the ``postMessage`` target follow
at once; another pool, a revoked app or a removed origin does not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import Harness
from tests.web.portal_client import PortalClient, field_errors, message_ids, portal_client
from widget_server.admin import apps
from widget_server.admin.access import Actor, Principal
from widget_server.admin.apps import AppPatch, NewApp
from widget_server.seed import DEMO_ADMINS

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")
SHOP = "https://shop.partner.example"
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


async def frame_check(h: Harness, pool: str, origin: str) -> bool:
    response = await h.client.get(f"/embed/{pool}/frame-check", params={"parent_origin": origin})
    return bool(response.json()["allowed"])


async def widget_page(h: Harness, pool: str) -> httpx.Response:
    return await h.client.get(f"/embed/{pool}/register")


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


async def test_an_apps_origin_frames_its_pools_widgets_and_no_other(h: Harness) -> None:
    services = h.web.services
    assert not await frame_check(h, "partner-1", SHOP)
    made = await apps.create_app(
        services,
        OPERATOR,
        NewApp(name="Shop", kind="public", pool_ids=["partner-1"], allowed_origins=[SHOP]),
    )
    assert await frame_check(h, "partner-1", SHOP)
    assert SHOP in (await widget_page(h, "partner-1")).headers["content-security-policy"]
    # Another pool is not framed by it.
    assert not await frame_check(h, "partner-2", SHOP)
    assert SHOP not in (await widget_page(h, "partner-2")).headers["content-security-policy"]
    # Removing the origin, or revoking the app, takes effect at once (the cache is dropped).
    await apps.update_app(services, OPERATOR, made.app.id, AppPatch(allowed_origins=[]))
    assert not await frame_check(h, "partner-1", SHOP)
    await apps.update_app(services, OPERATOR, made.app.id, AppPatch(allowed_origins=[SHOP]))
    assert await frame_check(h, "partner-1", SHOP)
    await apps.revoke_app(services, OPERATOR, made.app.id)
    assert not await frame_check(h, "partner-1", SHOP)
    assert SHOP not in (await widget_page(h, "partner-1")).headers["content-security-policy"]


async def test_the_developer_allows_its_site_on_its_app(h: Harness, dev: PortalClient) -> None:
    await dev.get("/developers/apps")
    created = await dev.post(
        "/developers/apps",
        {"name": "Partner shop", "kind": "public", "pool_ids": "partner-1", "scopes": "email"},
    )
    assert created.status_code == 200, message_ids(created)
    listed = await apps.list_apps(h.web.services, OPERATOR)
    app_id = next(a.id for a in listed if a.name == "Partner shop")
    page = f"/developers/apps/{app_id}/origins"
    assert f'href="{page}"' in created.text
    assert not await frame_check(h, "partner-1", SHOP)

    await dev.get(page)
    bad = await dev.post(page, {"allowed_origins": "https://*.shop.example\nftp://x"})
    assert bad.status_code == 422 and field_errors(bad, "allowed_origins")
    assert "https://*.shop.example" in bad.text  # what was typed stays
    assert not await frame_check(h, "partner-1", SHOP)

    saved = await dev.post(page, {"allowed_origins": SHOP})
    assert saved.status_code == 303 and saved.headers["location"] == page + "?done=saved"
    shown = await dev.follow(saved)
    assert "admin.saved" in message_ids(shown) and SHOP in shown.text
    assert await frame_check(h, "partner-1", SHOP)

    forged = await dev.post(page, {"allowed_origins": "https://evil.example"}, csrf="")
    assert forged.status_code == 403
    assert not await frame_check(h, "partner-1", "https://evil.example")


async def test_another_pools_app_is_not_found(h: Harness, dev: PortalClient) -> None:
    other = await apps.create_app(
        h.web.services,
        OPERATOR,
        NewApp(name="Business", kind="public", pool_ids=["business-1"]),
    )
    page = f"/developers/apps/{other.app.id}/origins"
    assert (await dev.get(page)).status_code == 404
    await dev.get("/developers/apps")
    assert (await dev.post(page, {"allowed_origins": SHOP})).status_code == 404
    assert not await frame_check(h, "business-1", SHOP)
