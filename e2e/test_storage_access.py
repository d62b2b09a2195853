"""Sign-in in a frame that cannot keep a session cookie: the widget notices at once,
offers the Storage Access API where the browser has it, and otherwise (or when it is
refused) tells embed.js, which dispatches ``error`` with the reason and offers the popup.

A browser that blocks even partitioned cookies is not something Chromium can be told to
be from the command line; a cookie that cannot be set is. The widget is served on an
insecure origin that is not localhost (``http://widget.test:A``, mapped to 127.0.0.1 in
this test's own browser), where a ``Secure`` cookie (the session cookie's kind) is
refused: the widget's probe fails exactly as the session would. The page around it is
the demo partner's allowed origin (its HTML given by a route), so the frame itself is
allowed and loads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import CHROMIUM
from harness import Demo, Mailbox
from login_pages import LoginFrame
from playwright.sync_api import Browser, Page, Playwright, Route, expect
from test_login import PASSWORD, register


@pytest.fixture
def insecure_widget_browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            # The partner page comes from a route (no address of its own), which Local
            # Network Access would count as public and stop from reaching widget.test.
            "--disable-features=LocalNetworkAccessChecks",
            # widget.test is ours (127.0.0.1); everything else stays unreachable.
            "--host-resolver-rules=MAP widget.test 127.0.0.1, MAP * ~NOTFOUND, "
            "EXCLUDE localhost, EXCLUDE 127.0.0.1",
        ],
    )
    try:
        yield browser
    finally:
        browser.close()


def _page(browser: Browser, demo: Demo) -> tuple[Page, str]:
    widget = f"http://widget.test:{urlsplit(demo.widget_origin).port}"
    body = (
        "<!doctype html><html lang=en><title>Partner sign-in</title><h1>Partner</h1>"
        '<div id="signin"></div><script>window.widgetEvents = [];'
        'document.getElementById("signin").addEventListener("error",'
        " (e) => window.widgetEvents.push(e.detail));</script>"
        f'<script src="{widget}/static/embed.js" data-pool="partner-1" data-flow="login"'
        ' data-target="#signin" async></script>'
    )
    page = browser.new_page()

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)

    page.route(f"{demo.partner_origin}/storage-test", fulfil)
    page.goto(f"{demo.partner_origin}/storage-test")
    return page, widget


def test_a_frame_without_a_session_cookie_falls_back_to_the_popup(
    insecure_widget_browser: Browser, demo: Demo, shot: Callable[..., Any]
) -> None:
    page, widget = _page(insecure_widget_browser, demo)
    frame = page.frame_locator("iframe")
    # Chromium has the Storage Access API, so the widget asks for it on a click.
    ask = frame.locator("[data-storage-access]")
    expect(ask).to_be_visible(timeout=8000)
    expect(frame.locator('input[name="identifier"], input[type="password"]').first).to_be_visible()
    assert page.evaluate("window.widgetEvents") == []
    shot(page, "30-storage-access-asked")
    # Refused here (an insecure context may not be granted storage), so embed.js swaps
    # the frame for the popup and says why.
    ask.click()
    fallback = page.locator(".widget-server-fallback")
    expect(fallback).to_be_visible()
    expect(page.locator("iframe")).to_have_count(0)
    events = page.evaluate("window.widgetEvents")
    assert events == [
        {"v": 1, "type": "error", "reason": "storage_access_denied", "origin": demo.partner_origin}
    ]
    button = fallback.get_by_role("button")
    expect(button).to_have_text("Sign in in a new window")
    shot(page, "31-storage-access-fallback")
    with page.expect_popup() as opened:
        button.click()
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url == f"{widget}/embed/partner-1/login"


def test_same_site_the_embedded_session_is_the_widgets_own(
    insecure_widget_browser: Browser, page: Page, demo: Demo, mailbox: Mailbox
) -> None:
    """Partner page and widget on one site (here 127.0.0.1, two ports: a site ignores
    the port), as when the widget is served from the partner's own subdomain: the
    sign-in made in the frame is the widget's first-party session, seen by a top-level
    visit to the widget too (a cross-site frame's session is keyed to the partner's
    site and never shows at the widget's top level)."""
    email = register(page, demo, mailbox)  # through the usual cross-site embed
    widget = f"http://127.0.0.1:{urlsplit(demo.widget_origin).port}"
    body = (
        "<!doctype html><html lang=en><title>Same-site partner</title><h1>Partner</h1>"
        '<div id="signin"></div>'
        f'<script src="{widget}/static/embed.js" data-pool="partner-1" data-flow="login"'
        ' data-target="#signin" async></script>'
    )
    context = insecure_widget_browser.new_context()
    same_site = context.new_page()
    same_site.route(
        f"{demo.partner_origin}/same-site",
        lambda route: route.fulfill(status=200, content_type="text/html", body=body),
    )
    same_site.goto(f"{demo.partner_origin}/same-site")
    login = LoginFrame(same_site.frame_locator("iframe"))
    login.log_in(email, PASSWORD)
    login.expect_state("done")
    # No storage prompt and no fallback: same-site, the cookie is first-party.
    expect(same_site.locator(".widget-server-fallback")).to_have_count(0)
    top = context.new_page()
    top.goto(f"{widget}/embed/partner-1/login")
    LoginFrame(top).expect_state("done")
    context.close()
