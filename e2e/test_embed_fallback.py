"""A page whose origin is not allowed for the pool never shows a grey box: embed.js
learns why within seconds, tells the page's script (an ``error`` event), says in the
console which origin to allow, and offers the same flow in a popup window.

The page lives on an origin no pool allows (127.0.0.1, another port), served by a
small HTTP server in the test, under a strict Content-Security-Policy with a nonce: no
inline style or script of embed.js's own is needed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from harness import Demo, free_port
from playwright.sync_api import Page, expect

NONCE = "e2e-nonce-42"


def _serve(body: bytes, csp: str) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-security-policy", csp)
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


@pytest.fixture
def unlisted_site(demo: Demo) -> Iterator[str]:
    widget = demo.widget_origin
    body = (
        "<!doctype html><html lang=en><title>Unlisted shop</title><h1>Unlisted shop</h1>"
        '<div id="signup"></div>'
        f'<script nonce="{NONCE}">window.widgetEvents = [];'
        'document.getElementById("signup").addEventListener("error",'
        " (e) => window.widgetEvents.push(e.detail));</script>"
        f'<script nonce="{NONCE}" src="{widget}/static/embed.js" data-pool="partner-1"'
        ' data-flow="register" data-target="#signup" async></script>'
    ).encode()
    # What the developer portal tells a partner to send: nothing inline but nonce'd scripts.
    csp = (
        f"default-src 'self'; script-src 'nonce-{NONCE}' 'strict-dynamic'; "
        f"frame-src {widget}; connect-src {widget}; style-src 'self'"
    )
    yield from _serve(body, csp)


def test_refused_origin_gets_an_error_event_a_console_hint_and_a_popup(
    page: Page, demo: Demo, unlisted_site: str, shot: Callable[..., None]
) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(unlisted_site)

    fallback = page.locator(".widget-server-fallback")
    expect(fallback).to_be_visible(timeout=5000)
    expect(page.locator("iframe")).to_have_count(0)
    events = page.evaluate("window.widgetEvents")
    assert events == [
        {"v": 1, "type": "error", "reason": "origin_not_allowed", "origin": unlisted_site}
    ]
    hint = next(m for m in console if m.startswith("WidgetServer:"))
    assert unlisted_site in hint and "partner-1" in hint and "/developers" in hint
    # Drawn in the pool's colours (from the frame check), not the browser's defaults.
    button = fallback.get_by_role("button")
    expect(button).to_have_text("Sign up in a new window")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") != "rgba(0, 0, 0, 0)"
    shot(page, "20-embed-fallback", mobile=True)

    with page.expect_popup() as opened:
        button.click()
    popup = opened.value
    popup.wait_for_load_state()
    assert popup.url == demo.widget_url("partner-1")
    expect(popup.locator("#ws-card")).to_be_visible()
    expect(popup.locator('input[name="email"]')).to_be_visible()
    shot(popup, "21-embed-fallback-popup")


def test_allowed_origin_keeps_the_frame_and_no_error(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.partner_origin}/?pool=partner-1")
    frame = page.frame_locator("iframe")
    expect(frame.locator('input[name="email"]')).to_be_visible()
    page.wait_for_timeout(3500)  # past embed.js's silence timer
    expect(page.locator(".widget-server-fallback")).to_have_count(0)
    expect(page.locator("iframe")).to_have_count(1)
