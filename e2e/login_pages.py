"""Page objects for signing in, out and recovering a password inside the widget.

Kept small and reusable: the OIDC tests drive the same card (``LoginFrame``) on their own
partner pages. Selectors follow the widget's stable hooks: ``#ws-card[data-state]``,
``[data-field=name]``, ``[data-message-id]``, ``a[data-link]``, ``[data-action]``.
"""

from __future__ import annotations

from pages import PartnerPage, WidgetFrame
from playwright.sync_api import Locator, expect


class LoginFrame(WidgetFrame):
    """The login card (and the recovery card it links to), in an iframe or top level."""

    def expect_kind(self, kind: str) -> None:
        expect(self.card).to_have_attribute("data-flow-kind", kind)

    def log_in(self, identifier: str, password: str) -> None:
        self.expect_kind("login")
        self.expect_state("form")
        self.control("identifier").fill(identifier)
        self.control("password").fill(password)
        self.primary_button.click()

    def log_out(self) -> None:
        self.card.locator('[data-action="logout"]').click()

    def link(self, name: str) -> Locator:
        return self.card.locator(f'a[data-link="{name}"]')

    # --- recovery -----------------------------------------------------------------------
    def ask_for_code(self, identifier: str) -> None:
        self.expect_kind("recovery")
        self.expect_state("identify")
        self.control("identifier").fill(identifier)
        self.primary_button.click()

    def choose_new_password(self, password: str) -> None:
        self.expect_state("password")
        self.control("password").fill(password)
        self.primary_button.click()


class LoginPartnerPage(PartnerPage):
    """The demo partner page with the sign-in form embedded (``?login=1``)."""

    def open_login(self, pool: str) -> LoginPartnerPage:
        self.page.goto(f"{self.origin}/?pool={pool}&login=1")
        return self

    @property
    def login(self) -> LoginFrame:
        return LoginFrame(self.page.frame_locator("iframe"), js=self.js)
