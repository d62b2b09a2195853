"""A user signs up through the widget embedded in a partner site on another site.

Partner page: http://127.0.0.1:B (demo/partner.py). Widget: http://localhost:A.
Codes come from the real SMTP sink started in conftest.py.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from harness import Demo, Mailbox, free_port
from pages import PartnerPage, WidgetFrame
from playwright.sync_api import BrowserContext, Page, expect

STRONG_PASSWORD = "Lantern-tundra-Gq7-42"
RULES = ("password.help.min_length", "password.help.max_length",
         "password.help.common", "password.help.similar")

PERSONAL = {"first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-04-12"}
COMPANY = {"company": "Analytical Engines Ltd", "job_title": "Engineer", "country": "GB"}
CONFIRM = {"terms": True, "newsletter": False}


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def register_business(widget: WidgetFrame, mailbox: Mailbox, email: str) -> None:
    """Every step of business-1 with valid values, then the mailed code."""
    widget.expect_step("account")
    widget.fill_step({"email": email, "password": STRONG_PASSWORD})
    widget.continue_()
    widget.expect_step("personal")
    widget.fill_step(PERSONAL)
    widget.continue_()
    widget.expect_step("company")
    widget.fill_step(COMPANY)
    widget.continue_()
    widget.expect_step("confirm")
    widget.fill_step(CONFIRM)
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")


# --- 1. Embedded, with JavaScript --------------------------------------------------------


def test_registers_through_every_step_inside_the_cross_site_iframe(
    page: Page, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    partner = PartnerPage(page, demo.partner_origin).open("business-1")
    widget = partner.widget
    email = new_email("business")

    expect(partner.iframe).to_have_attribute("src", f"{demo.widget_url('business-1')}"
                                             f"?parent_origin=http%3A%2F%2F127.0.0.1%3A"
                                             f"{demo.partner_origin.rsplit(':', 1)[1]}")
    widget.expect_step("account")
    # embed.js starts the iframe at 560px; the widget's resize message sets its real height.
    expect(partner.iframe).not_to_have_css("height", "560px")
    partner.wait_until_widget_fits()
    shot(page, "01-partner-step1", mobile=True, settle=partner.wait_until_widget_fits)

    # Live password rules: neutral before typing, then recomputed by the server per input.
    expect(widget.rules).to_have_count(len(RULES))
    expect(widget.card.locator("li.ws-rule--ok, li.ws-rule--fail")).to_have_count(0)
    widget.fill_step({"email": email})
    widget.type_password("abc")
    expect(widget.rule("password.help.min_length")).to_have_class("ws-rule ws-rule--fail")
    widget.type_password("password")  # long enough, but on the common-password list
    expect(widget.rule("password.help.min_length")).to_have_class("ws-rule ws-rule--ok")
    expect(widget.rule("password.help.common")).to_have_class("ws-rule ws-rule--fail")

    # The server rejects it and says why, on the field.
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        widget.continue_()
    expect(widget.errors("password")).to_have_count(1)
    expect(widget.errors("password")).to_have_attribute("data-message-id", "password.common")
    expect(widget.control("password")).to_have_attribute("aria-invalid", "true")
    expect(widget.control("email")).to_have_value(email)  # kept by the server
    # The password is kept too, by the browser: the server never sends it back.
    assert 'value="password"' not in refused.value.text()
    expect(widget.control("password")).to_have_value("password")
    widget.expect_step("account")
    partner.wait_until_widget_fits()
    shot(page, "02-step-error", mobile=True, settle=partner.wait_until_widget_fits)

    widget.type_password(STRONG_PASSWORD)
    for rule in RULES:
        expect(widget.rule(rule)).to_have_class("ws-rule ws-rule--ok")
    widget.continue_()

    widget.expect_step("personal")
    widget.fill_step(PERSONAL)
    widget.continue_()
    widget.expect_step("company")
    widget.fill_step(COMPANY)
    widget.continue_()
    widget.expect_step("confirm")
    widget.fill_step(CONFIRM)
    expect(widget.primary_button).to_have_text("Create account")
    widget.continue_()

    widget.expect_state("code")
    partner.wait_until_widget_fits()
    shot(page, "03-code-step")
    code = mailbox.wait_for_code(email)
    assert len(code) == 6 and code.isdigit()
    widget.enter_code(code)

    widget.expect_state("done")
    expect(widget.card).to_contain_text(email)
    expect(partner.events("registered")).to_have_count(1)
    detail = partner.event_detail("registered")
    assert set(detail) == {"v", "type", "pool_id", "user_id"}, detail
    assert detail["v"] == 1
    assert detail["type"] == "registered"
    assert detail["pool_id"] == "business-1"
    assert isinstance(detail["user_id"], str) and detail["user_id"]
    partner.wait_until_widget_fits()
    shot(page, "04-done-event-log", mobile=True, settle=partner.wait_until_widget_fits)


# --- 2. Without JavaScript: plain iframe, full-page posts --------------------------------


def test_registers_without_javascript_in_the_plain_iframe(
    new_context: Callable[..., BrowserContext], demo: Demo, mailbox: Mailbox,
    shot: Callable[..., None],
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    posts: list[tuple[str, int]] = []
    page.on("response", lambda r: posts.append((r.url, r.status))
            if r.request.method == "POST" else None)
    partner = PartnerPage(page, demo.partner_origin, js=False).open("business-1", plain=True)
    expect(partner.iframe).to_have_attribute("src", demo.widget_url("business-1"))
    widget = partner.widget
    email = new_email("nojs")

    widget.expect_step("account")
    shot(page, "05-nojs-plain-iframe-step1", mobile=True)
    # A server-side error also renders without JavaScript (full page, same card).
    widget.fill_step({"email": email, "password": "short"})
    widget.continue_()
    expect(widget.errors("password")).to_have_attribute("data-message-id", "password.too_short")
    shot(page, "05-nojs-plain-iframe-error")

    register_business(widget, mailbox, email)
    shot(page, "05-nojs-plain-iframe-done")
    # Every form post answered with a 303 to the flow's page (reload never re-posts),
    # except the rejected one, which re-renders with its errors.
    assert posts, "no form was posted"
    assert {status for _, status in posts} <= {200, 303, 422}, posts
    assert sum(status == 303 for _, status in posts) >= 5, posts
    expect(partner.events()).to_have_count(0)


def test_widget_page_works_top_level_without_javascript(
    new_context: Callable[..., BrowserContext], demo: Demo, mailbox: Mailbox,
    shot: Callable[..., None],
) -> None:
    """The widget URL opened directly (e.g. the partner links to it) is a full page."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(demo.widget_url("partner-2"))
    widget = WidgetFrame(page, js=False)
    widget.expect_step("account")
    shot(page, "06-nojs-full-page", mobile=True)
    email = new_email("nojs-top")
    widget.fill_step({"email": email, "password": STRONG_PASSWORD})
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
    shot(page, "06-nojs-full-page-done")


# --- 3. Origins that are not allowed cannot frame the widget ------------------------------


@pytest.fixture
def other_site(demo: Demo) -> Iterator[str]:
    """A page on an origin no pool allows (same host as the partner, another port),
    framing the widget once plainly and once claiming to be the partner."""
    partner = demo.partner_origin.replace(":", "%3A").replace("/", "%2F")
    body = (
        "<!doctype html><title>Not a partner</title><h1>Some other site</h1>"
        f'<iframe id="plain" src="{demo.widget_url("business-1")}" width="460" height="300">'
        "</iframe>"
        f'<iframe id="spoofed" src="{demo.widget_url("business-1")}?parent_origin={partner}"'
        ' width="460" height="300"></iframe>'
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_other_origins_cannot_frame_the_widget(
    page: Page, demo: Demo, other_site: str, shot: Callable[..., None]
) -> None:
    partner_origin = demo.partner_origin
    widget_responses = []
    page.on("response", lambda r: widget_responses.append(r)
            if r.url.startswith(demo.widget_url("business-1")) else None)
    page.goto(other_site, wait_until="load")

    # The server did answer (so this is the browser enforcing CSP, not a server error)...
    assert len(widget_responses) == 2, [r.url for r in widget_responses]
    for response in widget_responses:
        assert response.status == 200
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if " " in d.strip())
        assert directives["frame-ancestors"] == partner_origin, csp
    # ...and Chromium refused to render it in either frame.
    for frame_id in ("plain", "spoofed"):
        frame = page.locator(f"iframe#{frame_id}").element_handle().content_frame()
        assert frame is not None
        assert not frame.url.startswith(demo.widget_origin), frame.url
        expect(page.frame_locator(f"iframe#{frame_id}").locator("#ws-card")).to_have_count(0)
    shot(page, "07-blocked-frame")


def test_allowed_origin_is_the_only_frame_ancestor(page: Page, demo: Demo) -> None:
    response = page.request.get(demo.widget_url("business-1"))
    assert response.ok
    csp = response.headers["content-security-policy"]
    assert f"frame-ancestors {demo.partner_origin}" in csp, csp
    # Pages nobody should frame say so.
    home = page.request.get(f"{demo.widget_origin}/healthz")
    assert "frame-ancestors 'none'" in home.headers["content-security-policy"]


# --- 4. An address that is already registered ----------------------------------------------


def test_existing_address_gets_the_same_code_screen_and_a_notice_mail(
    page: Page, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    email = new_email("existing")
    partner = PartnerPage(page, demo.partner_origin).open("partner-1")
    widget = partner.widget
    widget.expect_step("account")
    widget.fill_step({"email": email, "password": STRONG_PASSWORD})
    widget.continue_()
    widget.expect_state("code")
    first_code_screen = widget.card.inner_text()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
    expect(partner.events("registered")).to_have_count(1)

    # Same address again, in a new flow: the screen must not tell the two cases apart.
    partner.open("partner-1")
    widget.expect_step("account")
    widget.fill_step({"email": email, "password": "Another-Secret-Phrase-9"})
    widget.continue_()
    widget.expect_state("code")
    assert widget.card.inner_text() == first_code_screen
    shot(page, "08-already-registered-code-step")

    notice = mailbox.wait_for(email, lambda e: "tried to sign up" in e.subject)
    assert notice.code is None, notice.body
    codes = [e for e in mailbox.messages_to(email) if e.code is not None]
    assert len(codes) == 1, [(e.subject, e.code) for e in codes]


# --- 5. Pools closed to self-registration --------------------------------------------------


def mount_on_partner_page(partner: PartnerPage, pool: str) -> WidgetFrame:
    """The demo's pool switcher lists open pools only; mount any other pool on the partner
    page with embed.js's own API (``WidgetServer.mount``), as a partner would."""
    expect(partner.iframe).to_have_count(1)  # embed.js has loaded
    partner.page.evaluate(
        """pool => {
            const host = document.getElementById("widget-server-signup");
            host.replaceChildren();
            WidgetServer.mount(host, {pool});
        }""",
        pool,
    )
    return partner.widget


def test_pool_without_self_registration_shows_the_closed_notice(
    page: Page, demo: Demo, shot: Callable[..., None]
) -> None:
    partner = PartnerPage(page, demo.partner_origin).open("partner-1")
    widget = mount_on_partner_page(partner, "employees")
    widget.expect_state("closed")
    expect(widget.message("registration.disabled")).to_be_visible()
    expect(widget.card.locator("form, input")).to_have_count(0)
    shot(page, "09-employees-closed")


def test_closed_notice_iframe_fits_its_content(page: Page, demo: Demo) -> None:
    partner = PartnerPage(page, demo.partner_origin).open("partner-1")
    widget = mount_on_partner_page(partner, "employees")
    widget.expect_state("closed")
    partner.wait_until_widget_fits(timeout=3)


def test_unknown_pool_is_not_found(page: Page, demo: Demo) -> None:
    response = page.goto(demo.widget_url("no-such-pool"))
    assert response is not None and response.status == 404
    expect(page.locator('[data-message-id="pool.not_found"]')).to_be_visible()
    expect(page.locator("form")).to_have_count(0)


# --- Going back a step ----------------------------------------------------------------------




@pytest.mark.parametrize("js", [True, False], ids=["htmx", "no-js"])
def test_back_returns_to_the_previous_step_with_values_kept(
    new_context: Callable[..., BrowserContext], demo: Demo, js: bool
) -> None:
    page = new_context(java_script_enabled=js).new_page()
    partner = PartnerPage(page, demo.partner_origin, js=js).open("business-1", plain=not js)
    widget = partner.widget
    widget.expect_step("account")
    widget.fill_step({"email": new_email("back"), "password": STRONG_PASSWORD})
    widget.continue_()
    widget.expect_step("personal")
    widget.fill_step(PERSONAL)
    widget.continue_()
    widget.expect_step("company")
    widget.back()
    expect(widget.card.locator('[data-message-id="flow.malformed"]')).to_have_count(0, timeout=3000)
    widget.expect_step("personal")
    expect(widget.control("first_name")).to_have_value(PERSONAL["first_name"])
    expect(widget.control("date_of_birth")).to_have_value(PERSONAL["date_of_birth"])
