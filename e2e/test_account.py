"""A user of a partner's pool manages their account inside the embedded widget: signs in,
opens the account portal from the signed-in card, edits the profile, turns on an
authenticator app (codes computed with pyotp, as the phone would), signs out, and signs
in again with the second factor. Screenshots of the account portal and the MFA step.

Partner page: http://127.0.0.1:B (demo/partner.py, ``?login=1`` embeds the sign-in form).
Widget: http://localhost:A. The demo's business-1 pool allows MFA ("optional").
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable

import pyotp
from a11y import violations
from account_pages import AccountFrame
from harness import Demo, Mailbox
from login_pages import LoginPartnerPage
from pages import PartnerPage
from PIL import Image
from playwright.sync_api import Page, expect
from pyzbar import pyzbar
from test_embedded_registration import STRONG_PASSWORD, register_business

POOL = "business-1"


def tall_shot(
    page: Page, partner: PartnerPage, shot: Callable[..., None], name: str, width: int = 0
) -> None:
    """A screenshot of a page taller than the window. Chromium paints a cross-site iframe
    only near the viewport, so a full-page capture of a tall widget shows it cut off: the
    window is made as tall as the page for the capture, then put back."""
    partner.wait_until_widget_fits()
    before = page.viewport_size
    assert before is not None
    if width:
        page.set_viewport_size({"width": width, "height": before["height"]})
        partner.wait_until_widget_fits()
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    page.set_viewport_size(
        {"width": width or before["width"], "height": max(height, before["height"])}
    )
    shot(page, name, settle=partner.wait_until_widget_fits)
    page.set_viewport_size(before)
    partner.wait_until_widget_fits()


def next_step_code(secret: str) -> str:
    """A code the server has not seen: the step after the one just used is in its window."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_manages_the_account_and_signs_in_with_a_second_factor(
    page: Page, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    email = f"account-{uuid.uuid4().hex[:10]}@example.com"
    register_business(PartnerPage(page, demo.partner_origin).open(POOL).widget, mailbox, email)

    partner = LoginPartnerPage(page, demo.partner_origin).open_login(POOL)
    partner.login.log_in(email, STRONG_PASSWORD)
    partner.login.expect_state("done")
    partner.login.link("account").click()
    account = AccountFrame(page.frame_locator("iframe"))
    account.expect_state("account")
    expect(account.section("profile").locator("dd").first).to_have_text(email)
    expect(account.control("first_name")).to_have_value("Ada")

    # A refused edit keeps what was typed and says why, by the field.
    account.save_profile({"first_name": "", "job_title": "Chief Engineer"})
    expect(account.errors("first_name")).to_have_attribute("data-message-id", "form.required")
    expect(account.control("job_title")).to_have_value("Chief Engineer")
    account.save_profile({"first_name": "Augusta Ada", "job_title": "Chief Engineer"})
    account.expect_notice("profile", "account.saved")
    expect(account.control("first_name")).to_have_value("Augusta Ada")
    tall_shot(page, partner, shot, "account-01-profile-saved")

    # Two-step verification: the setup key is shown once; a first code turns it on.
    secret = account.begin_totp()
    assert len(secret) == 32
    # The QR code as Chromium paints it (inline SVG under the page's CSP) reads back as the
    # otpauth URI of the key shown beside it, at desktop width and at 390 px.
    qr = account.card.get_by_role("img", name="QR code for your authenticator app")
    uri = account.card.locator("[data-totp-uri]").get_attribute("href")
    assert uri is not None and f"secret={secret}&" in uri
    desktop = page.viewport_size
    assert desktop is not None
    for width in (0, 390):
        if width:
            page.set_viewport_size({"width": width, "height": 900})
            partner.wait_until_widget_fits()
        box = qr.bounding_box()
        assert box is not None and box["width"] >= 150 and abs(box["width"] - box["height"]) < 1
        painted = Image.open(io.BytesIO(qr.screenshot()))
        assert [d.data.decode() for d in pyzbar.decode(painted)] == [uri]
    page.set_viewport_size(desktop)
    tall_shot(page, partner, shot, "account-02-totp-setup")
    tall_shot(page, partner, shot, "account-02-totp-setup-mobile", width=390)
    setup = partner.iframe.element_handle().content_frame()
    assert setup is not None
    assert violations(setup, "color-contrast") == []
    account.confirm_totp(pyotp.TOTP(secret).now())
    account.expect_notice("mfa", "mfa.enrolled")
    expect(account.section("mfa")).to_have_attribute("data-mfa", "on")
    expect(account.card.locator("[data-session][data-current]")).to_have_count(1)
    tall_shot(page, partner, shot, "account-03-totp-on")
    # Every text of the portal (profile facts on their tint, the current session on the
    # primary tint, two-step verification) meets WCAG AA contrast in the pool's theme.
    frame = partner.iframe.element_handle().content_frame()
    assert frame is not None
    assert violations(frame, "color-contrast") == []
    tall_shot(page, partner, shot, "account-03-totp-on-mobile", width=420)

    account.action("logout").click()
    account.expect_state("ended")
    expect(partner.events("logged-out")).to_have_count(1)

    # Signing in again stops at the second step until the app's code is entered.
    partner = LoginPartnerPage(page, demo.partner_origin).open_login(POOL)
    partner.login.log_in(email, STRONG_PASSWORD)
    partner.login.expect_state("mfa")
    expect(partner.events("logged-in")).to_have_count(0)
    partner.wait_until_widget_fits()
    shot(page, "mfa-01-totp", mobile=True, settle=partner.wait_until_widget_fits)
    code = partner.login.card.locator('[data-mfa-method="totp"] input[name="code"]')
    code.fill("000000" if next_step_code(secret) != "000000" else "111111")
    expect(partner.login.errors("code")).to_have_attribute("data-message-id", "mfa.code_invalid")
    shot(page, "mfa-02-wrong-code", settle=partner.wait_until_widget_fits)
    code = partner.login.card.locator('[data-mfa-method="totp"] input[name="code"]')
    code.fill(next_step_code(secret))
    partner.login.expect_state("done")
    assert partner.event_detail("logged-in")["type"] == "logged-in"

    # Back in the account portal: this browser's session says it used a second factor.
    partner.login.link("account").click()
    account.expect_state("account")
    expect(account.section("mfa")).to_have_attribute("data-mfa", "on")
    expect(account.control("first_name")).to_have_value("Augusta Ada")
