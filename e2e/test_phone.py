"""A user signs up with a mobile number in the widget embedded on the partner page; the
activation code arrives by SMS at the local webhook receiver (the demo's "SMS gateway",
started in conftest.py) and activates the account."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

from harness import Demo
from pages import PartnerPage
from playwright.sync_api import Page, expect

from widget_server.sms.receiver import ReceivedSms, ReceiverServer

POOL = "partner-phone"
PASSWORD = "Lantern-tundra-Gq7-42"
SMS_TIMEOUT = 10.0


def new_mobile() -> tuple[str, str]:
    """A German mobile number as a user types it, and its E.164 form."""
    rest = f"{random.randrange(10**7, 10**8)}"
    return f"0151 {rest[:4]} {rest[4:]}", f"+49151{rest}"


def wait_for_text(gateway: ReceiverServer, number: str) -> ReceivedSms:
    deadline = time.monotonic() + SMS_TIMEOUT
    while not gateway.receiver.to(number):
        if time.monotonic() > deadline:
            raise AssertionError(f"no text to {number} in {SMS_TIMEOUT}s")
        time.sleep(0.1)
    return gateway.receiver.to(number)[-1]


def test_registers_by_phone_with_the_texted_code(
    page: Page, demo: Demo, sms_gateway: ReceiverServer, shot: Callable[..., None]
) -> None:
    partner = PartnerPage(page, demo.partner_origin).open(POOL)
    widget = partner.widget
    typed, number = new_mobile()

    widget.expect_step("account")
    expect(widget.control("phone")).to_have_attribute("type", "tel")
    # A premium-rate number is refused on the field, before anything is sent.
    widget.fill_step({"phone": "+44 909 879 0000"})
    widget.type_password(PASSWORD)
    widget.continue_()
    expect(widget.errors("phone")).to_have_attribute("data-message-id", "phone.type_refused")

    widget.fill_step({"phone": typed})
    widget.type_password(PASSWORD)
    widget.continue_()
    widget.expect_state("code")
    expect(widget.message("registration.check_phone")).to_contain_text(f"+49 ••• ••{number[-2:]}")
    expect(widget.card).not_to_contain_text(number)
    partner.wait_until_widget_fits()
    shot(page, "phone-01-code-step", mobile=True, settle=partner.wait_until_widget_fits)

    text = wait_for_text(sms_gateway, number)
    assert "Partner 3" in text.body and "http" not in text.body
    code = re.match(r"(\d{6}) ", text.body)
    assert code is not None
    widget.enter_code(code.group(1))
    widget.expect_state("done")
    shot(page, "phone-02-done")
    assert sms_gateway.receiver.refused_signatures == 0
