"""Page object for the account portal inside the widget (``/embed/{pool}/account``).

Selectors follow the widget's stable hooks: ``#ws-card[data-state]``, sections by
``[data-section]``, buttons by ``[data-action]``, messages by ``[data-message-id]``.
"""

from __future__ import annotations

from pages import WidgetFrame
from playwright.sync_api import Locator, expect


class AccountFrame(WidgetFrame):
    def section(self, name: str) -> Locator:
        return self.card.locator(f'[data-section="{name}"]')

    def action(self, name: str) -> Locator:
        return self.card.locator(f'[data-action="{name}"]')

    def expect_notice(self, section: str, message_id: str) -> None:
        expect(self.section(section).locator(f'[data-message-id="{message_id}"]')).to_be_visible()

    def save_profile(self, values: dict[str, str]) -> None:
        self.expect_state("account")
        self.fill_step(values)
        self.action("save-profile").click()

    def begin_totp(self) -> str:
        """Start enrolling an authenticator app; returns the setup key shown once."""
        self.action("begin-totp").click()
        secret = self.card.locator("[data-totp-secret]")
        expect(secret).to_be_visible()
        return secret.inner_text().replace(" ", "").strip()  # shown in groups of four

    def confirm_totp(self, code: str) -> None:
        field = self.section("mfa").locator('[data-field="code"] input')
        field.fill(code)
        if not self.js:
            self.action("confirm-totp").click()
        # With JavaScript, widget.js submits a code field on its sixth digit.
