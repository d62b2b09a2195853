"""An app's own theme layer renders: the embedded login, registration and consent for a
``client_id`` show the app's theme over the pool's (tenant -> workspace -> pool -> app,
token by token), cached per (pool, version, app), and a publish reaches other processes."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

import pytest

from tests.admin.keys import AdminClient, MakeKey
from tests.branding.conftest import actor
from tests.conftest import PARTNER, Harness
from tests.two_apps import two_apps
from tests.web.test_two_processes import eventually
from widget_server.admin import apps as admin_apps
from widget_server.admin.apps import NewApp
from widget_server.branding import assignment, catalogue, publishing
from widget_server.branding.catalogue import DraftEdit, NewTheme

BLUE, GREEN = "#1d4ed8", "#166534"
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/embed/[^"]*/theme\.css[^"]*)">')


async def stylesheet(h: Harness, page: str) -> tuple[str, str]:
    """The theme stylesheet a page links to: its URL and its CSS."""
    found = STYLESHEET.search(page)
    assert found is not None, page[:500]
    url = html.unescape(found.group(1))
    css = await h.client.get(url)
    assert css.status_code == 200
    return url, css.text


async def app_with_theme(
    operator: AdminClient, designer: AdminClient, app_id: str, primary: str
) -> None:
    made = await operator.post(
        "/apps",
        json={
            "id": app_id,
            "name": app_id,
            "kind": "public",
            "pool_ids": ["partner-1"],
            "allowed_origins": [PARTNER],
        },
    )
    assert made.status_code == 201, made.text
    theme = (await designer.post("/themes", json={"name": app_id, "copy_of": "default"})).json()
    theme_id = theme["summary"]["id"]
    tokens = {**theme["draft"], "colors": {**theme["draft"]["colors"], "primary": primary}}
    assert (
        await designer.put(f"/themes/{theme_id}/draft", json={"tokens": tokens})
    ).status_code == 200
    assert (await designer.post(f"/themes/{theme_id}/publish", json={})).status_code == 200
    assigned = await designer.put(f"/theme-assignments/app/{app_id}", json={"theme_id": theme_id})
    assert assigned.status_code == 200, assigned.text


async def test_two_apps_on_one_pool_render_their_own_themes(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    designer = await make_key("brand_designer")
    await app_with_theme(operator, designer, "shop-blue", BLUE)
    await app_with_theme(operator, designer, "shop-green", GREEN)

    seen = {}
    for app_id, colour, other in (("shop-blue", BLUE, GREEN), ("shop-green", GREEN, BLUE)):
        for flow in ("login", "register"):
            page = await harness.client.get(
                f"/embed/partner-1/{flow}", params={"client_id": app_id, "parent_origin": PARTNER}
            )
            assert page.status_code == 200, (flow, page.text[:300])
            url, css = await stylesheet(harness, page.text)
            assert f"app={app_id}" in url
            assert colour in css and other not in css, (flow, app_id)
            seen[(app_id, flow)] = css
    assert seen[("shop-blue", "login")] == seen[("shop-blue", "register")]

    # The pool's own pages (no app, an app without a theme layer, an unknown one in the
    # stylesheet URL) keep the pool's theme: the demo's "ACME Partners" red.
    plain = await harness.client.get("/embed/partner-1/login")
    url, css = await stylesheet(harness, plain.text)
    assert "app=" not in url and "#b42318" in css and BLUE not in css
    probe = await harness.client.get("/embed/partner-1/theme.css", params={"app": "no-such"})
    assert probe.text == css

    # An app that may not use the pool: 404, as at the login.
    unknown = await harness.client.get("/embed/partner-1/register", params={"client_id": "nope"})
    assert unknown.status_code == 404


async def test_the_app_travels_with_an_unsaved_registration(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    """The first step is unsaved (its state is in the signed ticket): a refused submit
    still shows the app's theme, so the ticket carried the app."""
    designer = await make_key("brand_designer")
    await app_with_theme(operator, designer, "shop-blue", BLUE)
    page = await harness.client.get(
        "/embed/partner-1/register", params={"client_id": "shop-blue", "parent_origin": PARTNER}
    )
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    refused = await harness.client.post(
        "/embed/partner-1/register",
        data={
            **{k: html.unescape(v) for k, v in fields.items()},
            "email": "not-an-address",
            "action": "next",
        },
    )
    assert refused.status_code == 422, refused.text[:300]
    url, css = await stylesheet(harness, refused.text)
    assert "app=shop-blue" in url and BLUE in css


@pytest.mark.postgres
async def test_a_publish_of_an_app_theme_shows_on_the_other_process() -> None:
    async with two_apps() as (a, b):
        designer = actor("brand_designer", name="Bea Brand")
        operator = actor()
        await admin_apps.create_app(
            a.web.services,
            operator,
            NewApp(
                id="shop-blue",
                name="Shop",
                kind="public",
                pool_ids=["partner-1"],
                allowed_origins=[PARTNER],
            ),
        )
        theme = await catalogue.create_theme(
            a.web.services, designer, NewTheme(name="Shop", copy_of="default")
        )
        theme_id = theme.summary.id

        async def publish(primary: str) -> None:
            tokens = {**theme.draft, "colors": {**theme.draft["colors"], "primary": primary}}
            await catalogue.save_draft(a.web.services, designer, theme_id, DraftEdit(tokens=tokens))
            await publishing.publish_theme(a.web.services, designer, theme_id)

        await publish(BLUE)
        await assignment.assign_theme(a.web.services, designer, "app", "shop-blue", theme_id)

        async def b_css() -> str:
            page = await b.client.get("/embed/partner-1/login", params={"client_id": "shop-blue"})
            return (await stylesheet(b, page.text))[1]

        await eventually(lambda: _holds(b_css, BLUE))
        await publish(GREEN)
        await eventually(lambda: _holds(b_css, GREEN))
        assert BLUE not in await b_css()


async def _holds(read: Callable[[], Awaitable[str]], colour: str) -> bool:
    return colour in await read()
