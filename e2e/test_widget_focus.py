"""What keyboard and screen-reader users meet after each step, errors that go away once
corrected, and a refused step that keeps the typed password (inside the cross-site
iframe of the demo partner page)."""

from __future__ import annotations

import re
import uuid

from harness import Demo
from pages import PartnerPage
from playwright.sync_api import Page, expect

STRONG_PASSWORD = "Lantern-tundra-Gq7-42"


def _focused(page: Page) -> dict[str, str | None]:
    frame = page.frame_locator("iframe")
    return frame.locator("body").evaluate(
        "() => { const e = document.activeElement;"
        " return {tag: e.tagName.toLowerCase(), name: e.getAttribute('name'),"
        " cls: e.getAttribute('class')}; }"
    )


def test_focus_goes_to_the_first_invalid_field_then_to_the_next_steps_heading(
    page: Page, demo: Demo
) -> None:
    partner = PartnerPage(page, demo.partner_origin).open("business-1")
    widget = partner.widget
    widget.expect_step("account")
    widget.fill_step({"email": "not-an-address", "password": STRONG_PASSWORD})
    widget.continue_()
    expect(widget.errors("email")).to_have_count(1)
    assert _focused(page)["name"] == "email"
    # The refused step kept the password typed (carried over in the browser: the server
    # never sends a password back).
    expect(widget.control("password")).to_have_value(STRONG_PASSWORD)
    expect(widget.rule("password.help.min_length")).to_have_class(re.compile(r"ws-rule--ok"))

    # Editing the field takes its stale error away at once (no round trip).
    widget.control("email").fill(f"focus-{uuid.uuid4().hex[:8]}@example.com")
    expect(widget.errors("email")).to_have_count(0)
    expect(widget.control("email")).not_to_have_attribute("aria-invalid", "true")

    widget.continue_()
    widget.expect_step("personal")
    focused = _focused(page)
    assert focused["tag"] == "h1" and "ws-title" in (focused["cls"] or ""), focused


def test_a_forced_colour_scheme_reaches_the_widget_page(page: Page, demo: Demo) -> None:
    # embed.js turns data-color-scheme="dark" into ?color_scheme=dark on the frame's URL;
    # widget.js marks <html> so the theme's dark palette applies whatever the browser says.
    page.emulate_media(color_scheme="light")
    page.goto(demo.widget_url("partner-1") + "?color_scheme=dark")
    expect(page.locator("html")).to_have_attribute("data-color-scheme", "dark")
    page.goto(demo.widget_url("partner-1") + "?color_scheme=purple")
    expect(page.locator("html")).not_to_have_attribute("data-color-scheme", re.compile("."))
