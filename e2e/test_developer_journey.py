"""A partner developer's first day, in Chromium (issue 15's browser test).

The demo's developer of Partner 1 signs in to /developers, registers an app, copies the
React and the plain snippet, and adds a webhook endpoint pointing at a small real HTTP
receiver in this test. The plain snippet, pasted unchanged into a page served on an
origin of its own (127.0.0.1 on a port of its own, which nothing allows yet; the
session's Chromium resolves only localhost and 127.0.0.1, so 127.0.0.2 is out), shows
the themed fallback and fires the ``error`` event. The developer allows that origin on
the app, the page is reloaded, a user registers in the widget (code from the SMTP sink),
and the receiver gets a ``user.registered`` that verifies with ``standardwebhooks``, the
maintained Standard Webhooks library, with the secret the portal showed once.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from developer_pages import DeveloperPortal
from harness import Demo, Mailbox, free_port
from pages import WidgetFrame
from playwright.sync_api import BrowserContext, Page, expect
from standardwebhooks import Webhook

from widget_server.seed import DEMO_ADMINS

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")
PASSWORD = "Lantern-tundra-Gq7-42"
SHOTS = Path("/tmp/team/shots")
#: The new site's host: a port of its own makes it an origin nobody allowed.
NEW_HOST = "127.0.0.1"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A partner's webhook receiver: plain http.server, keeps every POST."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)

    def wait_for(self, event_type: str, timeout: float = 20.0) -> Received:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in list(self.requests):
                if json.loads(request.body).get("type") == event_type:
                    return request
            time.sleep(0.1)
        seen = [json.loads(r.body).get("type") for r in self.requests]
        raise AssertionError(f"no {event_type} within {timeout}s; got {seen}")


def _serve(host: str, handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer((host, free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    made = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            made.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    for origin in _serve("127.0.0.1", Handler):
        # localhost: what a developer types; allowed because the demo runs in dev mode.
        made.url = origin.replace("127.0.0.1", "localhost") + "/hooks/widget-server"
        yield made


@dataclass
class Site:
    """The partner's new page; ``body`` is what the developer pasted."""

    origin: str = ""
    body: str = "<!doctype html><title>Empty</title>"


@pytest.fixture
def site() -> Iterator[Site]:
    made = Site()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = made.body.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.send_header("cache-control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    for origin in _serve(NEW_HOST, Handler):
        made.origin = origin
        yield made


def _page_with(snippet: str) -> str:
    """A shop page with the snippet pasted as it was copied, plus the test's own record
    of the events (the snippet's listeners only log them)."""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>New shop</title><body style=\"font-family:sans-serif;margin:32px\">"
        "<h1>New shop: sign up</h1>\n"
        + snippet
        + "\n<script>window.widgetEvents = [];"
        'for (const type of ["error", "registered"]) {'
        ' document.getElementById("widget-server-register").addEventListener(type,'
        " (e) => window.widgetEvents.push(e.detail)); }</script></body></html>"
    )


def test_a_developer_embeds_sign_up_on_a_new_site_and_gets_a_verified_webhook(
    page: Page,
    context: BrowserContext,
    demo: Demo,
    mailbox: Mailbox,
    receiver: WebhookReceiver,
    site: Site,
    shot: Callable[..., None],
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.widget_origin)
    portal = DeveloperPortal(page, demo.widget_origin)
    portal.sign_in(DEVELOPER.email, DEVELOPER.password)

    app_id = portal.register_app(f"Shop {uuid.uuid4().hex[:6]}", "partner-1")
    react = portal.copy_snippet("partner-1", app_id, "react")
    assert "partner-1" in react and demo.widget_origin in react and "import" in react
    plain = portal.copy_snippet("partner-1", app_id, "html-script")
    assert 'data-pool="partner-1"' in plain and f"{demo.widget_origin}/static/embed.js" in plain

    secret = portal.add_webhook(receiver.url, "Shop backend", ["user.registered"])
    _shot(shot, page, "hooks-01-endpoint-created", mobile=True)

    # The new site, before anyone allowed it: a themed fallback and an error event.
    site.body = _page_with(plain)
    shop = page.context.new_page()
    console: list[str] = []
    shop.on("console", lambda m: console.append(m.text))
    shop.goto(site.origin)
    fallback = shop.locator(".widget-server-fallback")
    expect(fallback).to_be_visible(timeout=8000)
    expect(shop.locator("iframe")).to_have_count(0)
    button = fallback.get_by_role("button")
    expect(button).to_be_visible()
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert shop.evaluate("window.widgetEvents") == [
        {"v": 1, "type": "error", "reason": "origin_not_allowed", "origin": site.origin}
    ]
    assert any(f"origin_not_allowed {site.origin}" in line for line in console), console
    _shot(shot, shop, "hooks-02-fallback", mobile=True)

    # The developer allows the site on the app; the reloaded page shows the widget.
    portal.allow_origin(app_id, site.origin)
    _shot(shot, page, "hooks-03-app-origins", mobile=True)
    console.clear()
    shop.reload()
    widget = WidgetFrame(shop.frame_locator("#widget-server-register iframe"))
    widget.expect_step("account")
    expect(shop.locator(".widget-server-fallback")).to_have_count(0)
    email = f"journey-{uuid.uuid4().hex[:10]}@example.com"
    widget.fill_step({"email": email})
    widget.type_password(PASSWORD)
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
    registered = _wait_for_event(shop, "registered")
    assert registered["pool_id"] == "partner-1"
    _shot(shot, shop, "hooks-04-registered")

    # The receiver got user.registered, signed: verified by the maintained library.
    delivered = receiver.wait_for("user.registered")
    payload: dict[str, Any] = Webhook(secret).verify(delivered.body, delivered.headers)
    user = payload["data"]["user"]
    assert user["id"] == registered["user_id"] and user["pool_id"] == "partner-1"
    assert payload["data"]["source"] == "registration"
    assert delivered.headers["webhook-id"].startswith("msg_")
    assert "password" not in delivered.body.decode().lower()

    # …and the portal's delivery log shows it.
    page.get_by_role("link", name="Webhooks").click()
    page.locator("#endpoints-table tr[data-endpoint]", has_text="Shop backend").get_by_role(
        "link", name="Open"
    ).click()
    expect(portal.deliveries("succeeded")).to_have_count(1, timeout=10_000)
    expect(portal.deliveries().first).to_contain_text("user.registered")
    _shot(shot, page, "hooks-05-delivery-log", mobile=True)


def _wait_for_event(page: Page, event_type: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for detail in page.evaluate("window.widgetEvents"):
            if detail.get("type") == event_type:
                return dict(detail)
        page.wait_for_timeout(100)
    raise AssertionError(f"no {event_type} event: {page.evaluate('window.widgetEvents')}")


def _shot(shot: Callable[..., None], page: Page, name: str, *, mobile: bool = False) -> None:
    """e2e/screenshots/<name>.png (and -mobile), copied to /tmp/team/shots for review."""
    shot(page, name, mobile=mobile)
    if SHOTS.is_dir():
        source = Path(__file__).resolve().parent / "screenshots"
        for suffix in ("", "-mobile") if mobile else ("",):
            shutil.copy(source / f"{name}{suffix}.png", SHOTS / f"{name}{suffix}.png")
