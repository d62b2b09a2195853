"""After "You're all set": what the partner configures per pool and per app is offered —
sign in at once, continue to a URL on a trusted origin, or close with an event — and a
URL the partner has not registered is refused when saved and never drawn."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest

from tests.admin.keys import AdminClient
from tests.conftest import PARTNER, FlowPage, Harness
from tests.web.test_registration_errors import GOOD_PASSWORD
from widget_server.developers.contract import EVENTS
from widget_server.models import Pool

CONTINUE = f"{PARTNER}/welcome?from=widget"


def fields_of(response: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["id"])
    return found


async def done_page(h: Harness, widget: Any, email: str, **params: str) -> FlowPage:
    w = widget("partner-1")
    await w.open(**({"parent_origin": PARTNER} | params))
    await w.post(email=email, password=GOOD_PASSWORD)
    await h.deliver()
    [code] = h.codes_for(email)
    page: FlowPage = await w.code(code)
    assert page.state == "done", page.text[:400]
    return page


def after_block(page: FlowPage) -> str | None:
    found = re.search(r'<div class="ws-actions ws-after" data-after="([a-z_]+)">(.*?)</div>',
                      page.text, re.S)
    return None if found is None else f"{found.group(1)}|{found.group(2)}"


async def test_the_default_is_the_notice_alone(harness: Harness, widget: Any) -> None:
    page = await done_page(harness, widget, "plain@example.com")
    assert after_block(page) is None


@pytest.mark.parametrize(
    ("setting", "field_errors"),
    [
        ({"action": "continue"}, ["after.url_required"]),
        ({"action": "continue", "continue_url": "https://evil.example/x"}, ["after.url_untrusted"]),
        ({"action": "continue", "continue_url": "http://shop.example/x"}, ["after.url_invalid"]),
        ({"action": "continue", "continue_url": "javascript:alert(1)"}, ["after.url_invalid"]),
        ({"action": "continue", "continue_url": "https://u:p@127.0.0.1:8001/"},
         ["after.url_invalid"]),
    ],
)
async def test_a_continue_url_must_be_on_a_trusted_origin(
    harness: Harness, operator: AdminClient, setting: dict[str, str], field_errors: list[str]
) -> None:
    answer = await operator.patch("/pools/partner-1", json={"after_registration": setting})
    assert answer.status_code == 422, answer.text
    assert fields_of(answer) == {"after_registration.continue_url": field_errors}
    # Nothing was stored.
    pool = (await operator.get("/pools/partner-1")).json()
    assert pool["after_registration"] is None
    unknown = await operator.patch("/pools/partner-1", json={"after_registration": {"action": "x"}})
    assert unknown.status_code == 400


async def test_continue_links_the_partners_url_in_its_own_window(
    harness: Harness, operator: AdminClient, widget: Any
) -> None:
    setting = {"action": "continue", "continue_url": CONTINUE}
    saved = await operator.patch("/pools/partner-1", json={"after_registration": setting})
    assert saved.status_code == 200, saved.text
    assert saved.json()["pool"]["after_registration"] == setting
    page = await done_page(harness, widget, "cont@example.com")
    block = after_block(page)
    assert block is not None and block.startswith("continue|")
    link = re.search(r'<a class="ws-button ws-button--primary" href="([^"]+)" target="_top"', block)
    assert link is not None and html.unescape(link.group(1)) == CONTINUE

    # An origin removed since: the URL is no longer offered (checked again when drawn).
    async with harness.web.services.db.write() as session:
        pool = await session.get(Pool, "partner-1")
        assert pool is not None
        pool.allowed_origins = ["https://other.example"]
        pool.version += 1
    harness.web.services.pools.forget("partner-1")
    again = await done_page(harness, widget, "cont2@example.com", parent_origin="")
    assert after_block(again) is None


async def test_sign_in_goes_to_the_sign_in_form_for_the_same_app_and_page(
    harness: Harness, operator: AdminClient, widget: Any
) -> None:
    made = await operator.post(
        "/apps",
        json={"id": "shop", "name": "Shop", "kind": "public", "pool_ids": ["partner-1"],
              "allowed_origins": [PARTNER], "after_registration": {"action": "sign_in"}},
    )
    assert made.status_code == 201, made.text
    page = await done_page(harness, widget, "signin@example.com", client_id="shop")
    block = after_block(page)
    assert block is not None and block.startswith("sign_in|")
    href = html.unescape(re.findall(r'href="([^"]+)"', block)[0])
    assert href.startswith("/embed/partner-1/login?")
    assert "client_id=shop" in href and "parent_origin=http%3A%2F%2F127.0.0.1%3A8001" in href
    login = await harness.client.get(href)
    assert login.status_code == 200 and 'data-state="form"' in login.text
    # The pool's own setting applies to registrations without the app.
    assert after_block(await done_page(harness, widget, "nosignin@example.com")) is None


async def test_an_apps_setting_overrides_the_pools_and_close_posts_an_event(
    harness: Harness, operator: AdminClient, widget: Any
) -> None:
    pool = await operator.patch(
        "/pools/partner-1", json={"after_registration": {"action": "continue",
                                                         "continue_url": CONTINUE}}
    )
    assert pool.status_code == 200
    bad = await operator.post(
        "/apps",
        json={"id": "kiosk", "name": "Kiosk", "kind": "public", "pool_ids": ["partner-1"],
              "allowed_origins": [PARTNER],
              "after_registration": {"action": "continue",
                                     "continue_url": "https://elsewhere.example/"}},
    )
    assert fields_of(bad) == {"after_registration.continue_url": ["after.url_untrusted"]}
    made = await operator.post(
        "/apps",
        json={"id": "kiosk", "name": "Kiosk", "kind": "public", "pool_ids": ["partner-1"],
              "allowed_origins": [PARTNER], "after_registration": {"action": "close"}},
    )
    assert made.status_code == 201, made.text
    page = await done_page(harness, widget, "close@example.com", client_id="kiosk")
    block = after_block(page)
    assert block is not None and block.startswith("close|")
    payload = re.search(r"data-ws-post=\"([^\"]+)\"", block)
    assert payload is not None
    assert json.loads(html.unescape(payload.group(1))) == {"type": "close", "pool_id": "partner-1"}
    # The event is part of the documented embedding contract.
    assert "close" in {spec.type for spec in EVENTS}
