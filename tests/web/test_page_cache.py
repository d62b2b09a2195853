"""The first step and the code step are rendered once per pool and layout and the
per-request values substituted (web/render.py). Whatever the values, the page must be
exactly what a fresh render would give: escaped the same way, and a value that looks
like a placeholder is shown as typed, never replaced."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from widget_server.flows import registration
from widget_server.web.shared.render import FlowIds
from widget_server.web.widget import registration_views as views

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
# Valid addresses with characters HTML escapes and a placeholder's spelling.
ADDRESSES = ["o'neil&__ws_csrf_token__@example.com", "plain.user@example.com"]


async def fresh_render(h: Harness, flow_id: str, *, fragment: bool, top_level: bool) -> str:
    """The page drawn without the cache, from the same flow."""
    services = h.web.services
    pool = await services.pools.get("partner-1")
    flow = await registration.get(services, pool, flow_id)
    ids = FlowIds(
        flow_id=flow.id,
        csrf_token=registration.csrf_token(services, flow.id),
        flow_ticket=None,
        parent_origin=flow.parent_origin,
    )
    view = views._state_view(h.web, pool, flow, None, {}, (), flow.address)
    return h.web.renderer.registration(
        pool, fragment=fragment, ids=ids, **view, full_page=top_level
    )


@pytest.mark.parametrize("htmx", [True, False], ids=["fragment", "full-page"])
async def test_the_code_step_from_the_cache_equals_a_fresh_render(harness, widget, htmx):
    for address in ADDRESSES:  # the second one is a cache hit
        w = widget("partner-1", htmx=htmx)
        await w.open()
        page = await w.post(email=address, password=GOOD_PASSWORD)
        assert page.state == "code"
        expected = await fresh_render(harness, page.flow_id, fragment=htmx, top_level=False)
        assert page.text == expected


async def test_an_address_that_spells_a_placeholder_is_shown_as_typed(harness, widget):
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=ADDRESSES[0], password=GOOD_PASSWORD)
    assert "o&#39;neil&amp;__ws_csrf_token__@example.com" in page.text
    token = page.hidden["csrf_token"]
    assert page.text.count(token) == 2  # the code form and the resend form, not the address


async def test_a_reloaded_code_step_equals_a_fresh_render(harness, widget):
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=ADDRESSES[0], password=GOOD_PASSWORD)
    response = await harness.client.get(f"/embed/partner-1/register?flow={page.flow_id}")
    expected = await fresh_render(harness, page.flow_id, fragment=False, top_level=False)
    assert response.text == expected
