"""Page objects: the demo partner page and the widget inside its iframe.

Tests speak in user terms (fill a step, continue, enter the code); selectors live here
and follow the widget's stable hooks: ``#ws-card[data-state][data-step]``,
``[data-field=name]``, ``li.ws-error[data-message-id]``, ``li.ws-rule[data-rule]``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from playwright.sync_api import FrameLocator, Locator, Page, expect

Value = str | bool


class WidgetFrame:
    """The registration card, inside an iframe (``FrameLocator``) or as a top-level page.

    ``js`` says whether the browser runs scripts: with JavaScript the code field submits
    itself at six digits; without it, every button posts a full page and gets a 303.
    """

    def __init__(self, root: FrameLocator | Page, *, js: bool = True) -> None:
        self.root = root
        self.js = js

    # --- Locators ---------------------------------------------------------------------
    @property
    def card(self) -> Locator:
        return self.root.locator("#ws-card")

    def field(self, name: str) -> Locator:
        return self.card.locator(f'[data-field="{name}"]')

    def control(self, name: str) -> Locator:
        return self.field(name).locator("input, select, textarea").first

    def errors(self, name: str) -> Locator:
        return self.field(name).locator("li.ws-error")

    def rule(self, rule_id: str) -> Locator:
        return self.card.locator(f'li.ws-rule[data-rule="{rule_id}"]')

    @property
    def rules(self) -> Locator:
        return self.card.locator("li.ws-rule")

    def message(self, message_id: str) -> Locator:
        return self.card.locator(f'[data-message-id="{message_id}"]')

    @property
    def primary_button(self) -> Locator:
        return self.card.locator(".ws-button--primary")

    # --- Waiting for states -----------------------------------------------------------
    def expect_step(self, step_id: str) -> None:
        expect(self.card).to_have_attribute("data-state", "form")
        expect(self.card).to_have_attribute("data-step", step_id)

    def expect_state(self, state: str) -> None:
        expect(self.card).to_have_attribute("data-state", state)

    # --- Actions ----------------------------------------------------------------------
    def fill_step(self, values: Mapping[str, Value]) -> None:
        """Fill each named field the way its control wants: text, select or checkbox."""
        for name, value in values.items():
            kind = self.field(name).get_attribute("class") or ""
            control = self.control(name)
            if isinstance(value, bool):
                control.set_checked(value)
            elif "ws-field--select" in kind:
                control.select_option(value)
            else:
                control.fill(value)

    def type_password(self, password: str) -> None:
        """Type key by key, as a user would, so the live rule check sees input events."""
        control = self.control("password")
        control.fill("")
        control.press_sequentially(password, delay=10)

    def continue_(self) -> None:
        self.primary_button.click()

    def back(self) -> None:
        self.card.locator('button[value="back"]').click()

    def enter_code(self, code: str) -> None:
        self.expect_state("code")
        self.control("code").fill(code)
        if not self.js:
            self.primary_button.click()
        # With JavaScript, widget.js submits on the sixth digit; clicking as well would
        # spend a second attempt.


class PartnerPage:
    """The demo partner shop (``widget_server/demo/partner.py``) that embeds the widget."""

    def __init__(self, page: Page, origin: str, *, js: bool = True) -> None:
        self.page = page
        self.origin = origin
        self.js = js

    def open(self, pool: str, *, plain: bool = False) -> PartnerPage:
        self.page.goto(f"{self.origin}/?pool={pool}" + ("&plain=1" if plain else ""))
        return self

    @property
    def iframe(self) -> Locator:
        return self.page.locator("iframe")

    @property
    def widget(self) -> WidgetFrame:
        return WidgetFrame(self.page.frame_locator("iframe"), js=self.js)

    def events(self, event_type: str | None = None) -> Locator:
        selector = "#event-log li.event"
        if event_type is not None:
            selector += f'[data-type="{event_type}"]'
        return self.page.locator(selector)

    def event_detail(self, event_type: str) -> dict[str, Any]:
        entry = self.events(event_type).first
        expect(entry).to_be_visible()
        detail: dict[str, Any] = json.loads(entry.locator(".nw-log-detail").inner_text())
        return detail

    # --- iframe sizing ----------------------------------------------------------------
    def iframe_height(self) -> float:
        return float(self.iframe.evaluate("e => e.getBoundingClientRect().height"))

    def widget_document_height(self) -> float:
        handle = self.iframe.element_handle()
        frame = handle.content_frame()
        assert frame is not None, "iframe has no document"
        return float(frame.evaluate("document.documentElement.getBoundingClientRect().height"))

    def wait_until_widget_fits(self, timeout: float = 5.0) -> None:
        """embed.js sizes the iframe from the widget's resize messages; wait until the
        iframe is exactly as tall as the widget document (no inner scrollbar, no gap)."""
        deadline = time.monotonic() + timeout
        while True:
            outer, inner = self.iframe_height(), self.widget_document_height()
            if abs(outer - inner) <= 1:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"iframe is {outer}px tall, widget document {inner}px")
            self.page.wait_for_timeout(50)
