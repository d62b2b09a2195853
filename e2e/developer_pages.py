"""Page objects of the developer portal (``/developers``): sign in, register an app,
allow an origin on it, copy a snippet, add a webhook endpoint and read its log.

Selectors follow the portal's stable hooks: ``tr[data-app]``, ``[data-action]``,
``#snippet-code``, ``[data-copy]``, ``#webhook-secret``, ``tr[data-delivery][data-status]``.
"""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class DeveloperPortal:
    def __init__(self, page: Page, widget_origin: str) -> None:
        self.page = page
        self.base = f"{widget_origin}/developers"

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto(self.base)
        expect(self.page).to_have_url(f"{self.base}/login")
        self.page.fill('input[name="email"]', email)
        self.page.fill('input[name="password"]', password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(self.base)

    # --- apps ---------------------------------------------------------------------------
    def register_app(self, name: str, pool: str) -> str:
        """A public app of ``pool`` with no origin yet; its client id."""
        self.page.goto(f"{self.base}/apps")
        form = self.page.locator("#new-app")
        form.locator('input[name="name"]').fill(name)
        form.locator('input[name="kind"][value="public"]').check()
        form.locator(f'input[name="pool_ids"][value="{pool}"]').check()
        form.get_by_role("button", name="Register app").click()
        row = self.page.locator("#apps-table tr[data-app]", has_text=name)
        expect(row).to_be_visible()
        app_id = row.get_attribute("data-app")
        assert app_id
        return app_id

    def allow_origin(self, app_id: str, origin: str) -> None:
        self.page.goto(f"{self.base}/apps")
        self.page.locator(f'#apps-table tr[data-app="{app_id}"] [data-action="origins"]').click()
        self.page.fill('textarea[name="allowed_origins"]', origin)
        self.page.get_by_role("button", name="Save origins").click()
        expect(self.page.locator('[data-message-id="admin.saved"]')).to_be_visible()

    # --- snippets -----------------------------------------------------------------------
    def copy_snippet(self, pool: str, app_id: str, framework: str) -> str:
        """Open the generator for these choices, press Copy, return the clipboard."""
        self.page.goto(
            f"{self.base}/snippets?pool={pool}&flow=register&app={app_id}"
            f"&framework={framework}&color_scheme=auto"
        )
        button = self.page.locator('#snippet [data-copy="#snippet-code"]')
        button.click()
        expect(button).to_have_text("Copied")
        copied = str(self.page.evaluate("navigator.clipboard.readText()"))
        assert copied == self.page.locator("#snippet-code").text_content()
        return copied

    # --- webhooks -----------------------------------------------------------------------
    def add_webhook(self, url: str, description: str, events: list[str]) -> str:
        """A new endpoint of the first owner offered; the secret the page shows once."""
        self.page.goto(f"{self.base}/webhooks")
        form = self.page.locator("#new-endpoint")
        form.locator('input[name="url"]').fill(url)
        form.locator('input[name="description"]').fill(description)
        for event in events:
            form.locator(f'input[name="event_types"][value="{event}"]').check()
        form.get_by_role("button", name="Add endpoint").click()
        expect(self.page.locator('[data-message-id="webhook.created"]')).to_be_visible()
        secret = self.page.locator("#webhook-secret").text_content()
        assert secret and secret.startswith("whsec_")
        return secret

    def deliveries(self, status: str | None = None) -> Locator:
        selector = "#deliveries-table tr[data-delivery]"
        return self.page.locator(selector + (f'[data-status="{status}"]' if status else ""))
