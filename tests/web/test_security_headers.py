"""Who may frame which page, what every response tells the browser, and that nothing a
visitor types comes back as markup.

Runs on SQLite and PostgreSQL (``database_url`` fixture)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.conftest import PARTNER, FlowPage
from widget_server.models import Pool

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
HX = {"HX-Request": "true"}
# Characters email-validator accepts in an unquoted local part that matter in HTML/JS.
TRICKY_EMAIL = "o'brien&co{x}|~=@example.com"
INJECTIONS = {
    "first_name": "</script><script>alert(1)</script>",
    "last_name": '"><img src=x onerror=alert(2)>',
    "company": "<b>ACME</b> & 'Co' <!--",
    "job_title": "{{ 7*7 }}<svg onload=alert(3)>",
}
RAW_MARKERS = ("<script>alert", "<img src=x", "<b>ACME", "<svg onload", "<!--")


def csp(response: httpx.Response) -> dict[str, str]:
    directives = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


def assert_common_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in response.headers


def assert_no_raw_user_markup(text: str) -> None:
    for marker in RAW_MARKERS:
        assert marker not in text, marker
    assert TRICKY_EMAIL not in text


# --- frame-ancestors -------------------------------------------------------------------------


async def test_widget_page_may_be_framed_by_exactly_the_pools_origins(harness):
    for headers in (HX, {}):
        response = await harness.client.get("/embed/partner-1/register", headers=headers)
        assert response.status_code == 200
        policy = csp(response)
        assert policy["frame-ancestors"] == PARTNER
        assert (policy["default-src"], policy["script-src"], policy["base-uri"]) == (
            "'none'",
            "'self'",
            "'none'",
        )
        assert_common_headers(response)
        assert response.headers["vary"] == "HX-Request"
        assert response.headers["cache-control"] == "no-store"
    # The closed notice is a widget page too: framable by the pool's origins only.
    response = await harness.client.get("/embed/employees/register")
    assert response.status_code == 403
    assert csp(response)["frame-ancestors"] == PARTNER


async def test_frame_ancestors_lists_only_well_formed_origins_of_the_pool(harness):
    async with harness.web.services.db.write() as session:
        pool = await session.get(Pool, "partner-2")
        assert pool is not None
        pool.allowed_origins = [
            "https://shop.example",
            "http://localhost:3000",
            # Not origins: must never widen the policy.
            "*",
            "https:",
            "https://bad.example/path",
            "'self'",
        ]
        pool.version += 1
    harness.web.services.pools.forget("partner-2")
    response = await harness.client.get("/embed/partner-2/register")
    ancestors = csp(response)["frame-ancestors"].split()
    assert sorted(ancestors) == ["http://localhost:3000", "https://shop.example"]


async def test_an_origin_cannot_inject_csp_sources(harness):
    for evil in (
        "https://x.example *",
        "https://x.example 'unsafe-inline'",
        "https://x.example;script-src *",
        "https://*.example",
    ):
        async with harness.web.services.db.write() as session:
            pool = await session.get(Pool, "partner-2")
            assert pool is not None
            pool.allowed_origins = ["https://shop.example", evil]
            pool.version += 1
        harness.web.services.pools.forget("partner-2")
        response = await harness.client.get("/embed/partner-2/register")
        assert csp(response)["frame-ancestors"] == "https://shop.example", evil
        assert response.headers["content-security-policy"].count("script-src") == 1, evil


async def test_other_pages_may_not_be_framed(harness):
    for path, status in (
        ("/", 200),
        ("/healthz", 200),
        ("/dev/mailbox", 404),
        ("/embed/nope/register", 404),
        ("/static/embed.js", 200),
        ("/embed/partner-1/theme.css", 200),
    ):
        response = await harness.client.get(path)
        assert response.status_code == status, path
        assert csp(response)["frame-ancestors"] == "'none'", path
        assert_common_headers(response)


async def test_paths_no_route_matches_get_the_headers_too(harness):
    """A 404 or 405 the router answers itself, before any route's middleware, is a page
    like any other: not framable, not sniffable."""
    for method, path, status in (
        ("GET", "/no-such-page", 404),
        ("GET", "/admin/no-such-page", 404),
        ("GET", "/api/v1/no-such-thing", 404),
        ("GET", "/static/no-such-file.js", 404),
        ("DELETE", "/healthz", 405),
    ):
        response = await harness.client.request(method, path)
        assert response.status_code == status, path
        assert csp(response)["frame-ancestors"] == "'none'", path
        assert response.headers["referrer-policy"] == "same-origin", path
        assert_common_headers(response)


# --- Vary on every rendering that depends on HX-Request ----------------------------------------


async def test_every_widget_response_varies_on_hx_request(harness, widget):
    for htmx in (True, False):
        w = widget("business-1", htmx=htmx)
        page = await w.open()
        assert page.response.headers["vary"] == "HX-Request"
        page = await w.post(email="nope", password=GOOD_PASSWORD)  # 422 page or fragment
        assert page.status == 422
        assert page.response.headers["vary"] == "HX-Request"
        page = await w.post(email=f"v{int(htmx)}@example.com", password=GOOD_PASSWORD)
        assert page.step == "personal"
        assert page.response.headers["vary"] == "HX-Request"
        assert_common_headers(page.response)


# --- nothing typed comes back as markup ------------------------------------------------------


async def test_user_input_is_escaped_on_every_page_and_the_event_is_minimal(harness, widget):
    w = widget("business-1", htmx=False)
    await w.open(parent_origin=PARTNER)
    pages: list[FlowPage] = []
    pages.append(await w.post(email=TRICKY_EMAIL, password=GOOD_PASSWORD))
    assert pages[-1].step == "personal"
    # A failing step re-renders the raw values: they must come back escaped.
    pages.append(await w.post(**{**INJECTIONS, "date_of_birth": "yesterday"}))
    assert pages[-1].status == 422
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in pages[-1].text
    pages.append(
        await w.post(
            first_name=INJECTIONS["first_name"],
            last_name=INJECTIONS["last_name"],
            date_of_birth="1990-02-03",
        )
    )
    assert pages[-1].step == "company"
    pages.append(
        await w.post(company=INJECTIONS["company"], job_title=INJECTIONS["job_title"], country="DE")
    )
    assert pages[-1].step == "confirm"
    pages.append(await w.post(action="back"))  # the company step again, from stored data
    assert pages[-1].step == "company"
    pages.append(
        await w.post(company=INJECTIONS["company"], job_title=INJECTIONS["job_title"], country="DE")
    )
    pages.append(await w.post(terms="on"))
    assert pages[-1].state == "code"
    await harness.deliver()
    [code] = harness.codes_for(TRICKY_EMAIL)
    pages.append(await w.code(code))
    done = pages[-1]
    assert done.state == "done"

    for page in pages:
        assert_no_raw_user_markup(page.text)
    assert "o&#39;brien&amp;co{x}|~=@example.com" in done.text
    # Values are data, never template source: the expression arrives unevaluated.
    company_again = pages[4]
    assert "{{ 7*7 }}&lt;svg" in company_again.text and "49&lt;svg" not in company_again.text

    events = re.findall(
        r"<script type=\"application/json\" data-ws-event>(.*?)</script>", done.text, re.S
    )
    [raw_event] = events
    event = json.loads(raw_event)
    assert set(event) == {"type", "pool_id", "user_id"}
    assert event["type"] == "registered" and event["pool_id"] == "business-1"
    assert "<" not in raw_event and "&" not in raw_event.replace("\\u0026", "")


async def test_done_page_survives_script_breaking_characters_in_the_address(harness, widget):
    w = widget("partner-1")
    await w.open(parent_origin=PARTNER)
    page = await w.post(email=TRICKY_EMAIL, password=GOOD_PASSWORD)
    assert page.state == "code"
    assert_no_raw_user_markup(page.text)
    await harness.deliver()
    [code] = harness.codes_for(TRICKY_EMAIL)
    page = await w.code(code)
    assert page.state == "done"
    assert_no_raw_user_markup(page.text)
    # Exactly one script block in the card, and it holds only the event.
    assert page.text.count("</script>") == 1


async def test_reflected_request_values_are_not_markup(harness):
    for headers, params in (
        ({"Referer": 'http://"><script>alert(1)</script>/x'}, {}),
        ({}, {"parent_origin": '"><script>alert(1)</script>'}),
        ({}, {"flow": "<script>alert(1)</script>"}),
    ):
        response = await harness.client.get(
            "/embed/partner-1/register", headers=headers, params=params
        )
        assert "<script>alert" not in response.text, (headers, params)
        assert 'name="ws-parent-origin"' not in response.text, (headers, params)


# --- parent_origin --------------------------------------------------------------------------


NOT_ORIGINS = (
    PARTNER + "/shop",
    PARTNER + "/?x=1",
    PARTNER + "/#frag",
    "javascript:alert(1)",
    "JavaScript://127.0.0.1:8001/%0aalert(1)",
    "http://127.0.0.1:8001@evil.example",
    "http://user@127.0.0.1:8001",
    "data:text/html,hi",
    "null",
)


async def test_parent_origin_that_is_not_an_allowed_origin_is_ignored(harness, widget):
    for origin in NOT_ORIGINS:
        for htmx in (True, False):
            page = await widget("partner-1", htmx=htmx).open(parent_origin=origin)
            assert page.status == 200, origin
            assert 'name="ws-parent-origin"' not in page.text, origin
            assert "javascript:" not in page.text.lower(), origin
    # And no event is ever posted for such a flow.
    w = widget("partner-1", htmx=False)
    await w.open(parent_origin="javascript:alert(1)")
    page = await w.post(email="po@example.com", password=GOOD_PASSWORD)
    assert page.state == "code"
    await harness.deliver()
    [code] = harness.codes_for("po@example.com")
    page = await w.code(code)
    assert page.state == "done"
    assert "data-ws-event" not in page.text
    assert 'name="ws-parent-origin"' not in page.text


async def test_allowed_parent_origin_is_kept_through_the_flow(harness, widget):
    w = widget("partner-1", htmx=False)
    page = await w.open(parent_origin=PARTNER)
    meta = f'<meta name="ws-parent-origin" content="{PARTNER}">'
    assert meta in page.text
    page = await w.post(email="nope", password=GOOD_PASSWORD)
    assert page.status == 422 and meta in page.text
    page = await w.post(email="po@example.com", password=GOOD_PASSWORD)
    assert meta in page.text
    await harness.deliver()
    [code] = harness.codes_for("po@example.com")
    page = await w.code(code)
    assert meta in page.text and "data-ws-event" in page.text
