"""A user signs in, out, and resets a password inside the widget embedded cross-site.

Partner page: http://127.0.0.1:B (demo/partner.py, ``?login=1`` embeds the sign-in form).
Widget: http://localhost:A. Codes come from the real SMTP sink started in conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from harness import Demo, Mailbox
from login_pages import LoginPartnerPage
from pages import PartnerPage
from playwright.sync_api import BrowserContext, Page, expect

PASSWORD = "Lantern-tundra-Gq7-42"
NEW_PASSWORD = "Quartz-meadow-Rb3-77"


def register(page: Page, demo: Demo, mailbox: Mailbox) -> str:
    """A fresh, activated user of partner-1, registered through the embedded widget."""
    email = f"login-{uuid.uuid4().hex[:10]}@example.com"
    widget = PartnerPage(page, demo.partner_origin).open("partner-1").widget
    widget.expect_step("account")
    widget.fill_step({"email": email})
    widget.type_password(PASSWORD)
    widget.continue_()
    widget.enter_code(mailbox.wait_for_code(email))
    widget.expect_state("done")
    return email


def session_cookies(context: BrowserContext) -> list[dict[str, object]]:
    return [dict(c) for c in context.cookies() if c["name"] == "ws_session_partner-1"]


def test_signs_in_and_out_inside_the_cross_site_iframe(
    page: Page, context: BrowserContext, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    email = register(page, demo, mailbox)
    partner = LoginPartnerPage(page, demo.partner_origin).open_login("partner-1")
    login = partner.login
    login.expect_state("form")
    partner.wait_until_widget_fits()
    shot(page, "login-01-form", settle=partner.wait_until_widget_fits)

    # A wrong password: the card says so, the page learns nothing, no cookie is set.
    login.log_in(email, "not-the-password-1")
    expect(login.message("login.failed")).to_be_visible()
    expect(partner.events("logged-in")).to_have_count(0)
    assert session_cookies(context) == []

    login.log_in(email, PASSWORD)
    login.expect_state("done")
    assert partner.event_detail("logged-in") == {
        "v": 1,
        "type": "logged-in",
        "pool_id": "partner-1",
    }
    # The session lives in a partitioned cookie: the only kind a cross-site iframe keeps.
    [cookie] = session_cookies(context)
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "None"
    assert cookie["partitionKey"] == "http://127.0.0.1"
    shot(page, "login-02-done", settle=partner.wait_until_widget_fits)

    # Back on the partner site later: the partitioned cookie keeps the user signed in.
    partner.open_login("partner-1")
    login.expect_state("done")
    expect(login.link("switch")).to_be_visible()
    assert partner.event_detail("logged-in")["pool_id"] == "partner-1"

    login.log_out()
    login.expect_state("ended")
    expect(login.message("login.signed_out")).to_be_visible()
    expect(partner.events("logged-out")).to_have_count(1)
    assert session_cookies(context) == []


def test_resets_a_forgotten_password_inside_the_iframe(
    page: Page, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    email = register(page, demo, mailbox)
    partner = LoginPartnerPage(page, demo.partner_origin).open_login("partner-1")
    login = partner.login
    login.link("recover").click()
    login.ask_for_code(email)
    login.expect_state("code")
    expect(login.message("recovery.sent")).to_be_visible()
    shot(page, "recovery-01-code", settle=partner.wait_until_widget_fits)
    entry = mailbox.wait_for(email, lambda e: "reset" in e.subject and e.code is not None)
    assert entry.code is not None
    login.enter_code(entry.code)
    login.choose_new_password(NEW_PASSWORD)
    login.expect_state("done")
    expect(login.message("recovery.done")).to_be_visible()

    login.link("login").click()
    login.log_in(email, PASSWORD)
    expect(login.message("login.failed")).to_be_visible()
    login.log_in(email, NEW_PASSWORD)
    login.expect_state("done")
    assert partner.event_detail("logged-in")["type"] == "logged-in"
