"""Release day: the server turns people away for a moment (503 + Retry-After) and the
widget waits in line for them, keeping everything typed, the password included.

Each test starts a demo of its own that refuses every other hashing admission, starting
with the first (``WIDGET_HASH_REFUSE_EVERY=2``): the first time a form is sent it is
refused, the second time it goes through, as at the height of a burst.

    .venv/bin/python -m pytest e2e/test_busy.py -q
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from conftest import Sink, run_demo
from harness import Demo, Mailbox
from login_pages import LoginPartnerPage
from pages import PartnerPage, WidgetFrame
from playwright.sync_api import BrowserContext, Page, Request, Route, expect

from widget_server.sms.receiver import ReceiverServer

PASSWORD = "Lantern-tundra-Gq7-42"
COUNTDOWN = re.compile(r"^Trying again in [1-3] s…$")


@pytest.fixture
def busy_demo(
    tmp_path_factory: pytest.TempPathFactory, smtp_sink: Sink, sms_gateway: ReceiverServer
) -> Iterator[Demo]:
    extra = {"WIDGET_HASH_REFUSE_EVERY": "2"}
    with run_demo(tmp_path_factory.mktemp("busy"), smtp_sink, sms_gateway, extra) as running:
        yield running


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


class Posts:
    """The widget's POSTs to one path: when each left, what came back; the resend after
    a refusal can be held (to look at the waiting card) and let go."""

    def __init__(self, page: Page, path: str) -> None:
        self.sent: list[float] = []
        self.answered: list[tuple[int, str | None, float]] = []
        self.held: list[Route] = []
        self.hold = False
        page.route(re.compile(re.escape(path) + r"$"), self._route)
        page.on("response", self._response)
        self.path = path

    def _route(self, route: Route, request: Request) -> None:
        if request.method != "POST":
            route.continue_()
            return
        self.sent.append(time.monotonic())
        if self.hold:
            self.held.append(route)  # answered when the test lets it go
        else:
            route.continue_()

    def _response(self, response: object) -> None:
        request = response.request  # type: ignore[attr-defined]
        if request.method == "POST" and request.url.endswith(self.path):
            retry = response.headers.get("retry-after")  # type: ignore[attr-defined]
            self.answered.append((response.status, retry, time.monotonic()))  # type: ignore[attr-defined]

    def let_go(self) -> None:
        self.hold = False
        for route in self.held:
            route.continue_()
        self.held.clear()


def expect_waiting(widget: WidgetFrame, message_id: str) -> None:
    notice = widget.card.locator("#ws-busy")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "status")
    expect(notice.locator(f'[data-message-id="{message_id}"]')).to_be_visible()


def test_the_widget_waits_in_line_and_registers_by_itself(
    page: Page, busy_demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    partner = PartnerPage(page, busy_demo.partner_origin).open("partner-1")
    widget = partner.widget
    posts = Posts(page, "/embed/partner-1/register")
    email = new_email("busy")
    widget.expect_step("account")
    widget.fill_step({"email": email})
    widget.type_password(PASSWORD)
    widget.continue_()

    expect_waiting(widget, "busy.registration")
    countdown = widget.card.locator("#ws-busy .ws-busy-countdown")
    expect(countdown).to_have_text(COUNTDOWN)
    posts.hold = True  # the resend waits until we have looked at the card
    # Everything typed is still in the form, the password too: it never left the page.
    widget.expect_step("account")
    expect(widget.control("email")).to_have_value(email)
    expect(widget.control("password")).to_have_value(PASSWORD)
    status, retry_after, refused_at = posts.answered[0]
    assert (status, retry_after) == (503, "1")
    partner.wait_until_widget_fits()
    shot(page, "busy-01-waiting-in-line", mobile=True, settle=partner.wait_until_widget_fits)

    # Nobody pressed anything: the widget sends the form again after Retry-After + jitter.
    deadline = time.monotonic() + 10
    while len(posts.sent) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert len(posts.sent) == 2, posts.sent
    waited = posts.sent[1] - refused_at
    assert 0.9 <= waited <= 1 * 1.1 + 1 + 1.0, waited  # Retry-After 1 s, up to 1.1 s jitter
    expect(countdown).to_have_text("Trying again…")
    posts.let_go()
    widget.expect_state("code")
    expect(widget.card.locator("#ws-busy")).to_have_count(0)
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
    assert [status for status, _, _ in posts.answered] == [503, 200]
    assert len(mailbox.messages_to(email)) == 1  # registered once, mailed once
    assert partner.event_detail("registered")["type"] == "registered"


def test_the_sign_in_waits_in_line_the_same_way(
    page: Page, busy_demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    # An account first (its registration is refused once too and goes through by itself).
    email = new_email("busy-login")
    widget = PartnerPage(page, busy_demo.partner_origin).open("partner-1").widget
    widget.expect_step("account")
    widget.fill_step({"email": email, "password": PASSWORD})
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")

    partner = LoginPartnerPage(page, busy_demo.partner_origin).open_login("partner-1")
    login = partner.login
    posts = Posts(page, "/embed/partner-1/login")
    login.log_in(email, PASSWORD)
    expect_waiting(login, "busy.login")
    expect(login.control("identifier")).to_have_value(email)
    expect(login.control("password")).to_have_value(PASSWORD)
    shot(page, "busy-02-sign-in-waiting", settle=partner.wait_until_widget_fits)
    login.expect_state("done")
    assert [status for status, _, _ in posts.answered] == [503, 200]
    assert partner.event_detail("logged-in")["type"] == "logged-in"


def test_without_javascript_the_page_says_when_and_keeps_the_email(
    new_context: Callable[..., BrowserContext], busy_demo: Demo, mailbox: Mailbox,
    shot: Callable[..., None],
) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto(busy_demo.widget_url("partner-1"))
    widget = WidgetFrame(page, js=False)
    email = new_email("busy-nojs")
    widget.expect_step("account")
    widget.fill_step({"email": email, "password": PASSWORD})
    widget.continue_()
    notice = widget.message("busy.registration_later")
    expect(notice).to_contain_text("send the form again in 1 s;")
    widget.expect_step("account")
    expect(widget.control("email")).to_have_value(email)
    expect(widget.control("password")).to_have_value("")  # never sent back by the server
    shot(page, "busy-03-nojs-try-again")
    widget.fill_step({"password": PASSWORD})
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
