"""The brand studio in Chromium, against the real demo: a designer copies a built-in
theme, changes the primary colour and the logo, watches the preview change without a
reload while the partner's live widget stays as it was, publishes, assigns, rolls back,
and looks at it all in dark mode."""

from __future__ import annotations

import io
import re
from pathlib import Path

from harness import Demo
from PIL import Image
from playwright.sync_api import FrameLocator, Locator, Page, expect

from widget_server.seed import DEMO_ADMINS

DESIGNER = DEMO_ADMINS[2]
SHOTS = Path("/tmp/team/shots")
POOL = "partner-1"
# themes/dark.json: its light primary, and the dark palette's.
LIGHT_PRIMARY = "rgb(37, 99, 235)"
DARK_PRIMARY = "rgb(96, 165, 250)"
NEW_PRIMARY, NEW_PRIMARY_RGB = "#b42318", "rgb(180, 35, 24)"


def _logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 48), "#b42318").save(out, "PNG")
    return out.getvalue()


def background(locator: Locator) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).backgroundColor"))


class Studio:
    """The studio as a designer uses it; selectors follow its ``id``/``data-*`` hooks."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin

    def sign_in(self) -> None:
        self.page.goto(f"{self.origin}/admin/login")
        self.page.get_by_label("Email").fill(DESIGNER.email)
        self.page.get_by_label("Password").fill(DESIGNER.password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page).to_have_url(re.compile(r"/admin/branding$"))

    @property
    def preview(self) -> FrameLocator:
        return self.page.frame_locator("#st-preview")

    @property
    def preview_button(self) -> Locator:
        return self.preview.locator(".ws-button--primary").first

    def copy(self, builtin: str) -> None:
        self.page.locator(f'[data-theme="{builtin}"] [data-action="copy"]').click()
        expect(self.page).to_have_url(re.compile(r"/admin/branding/themes/[0-9a-f-]{36}$"))
        expect(self.preview_button).to_be_visible()

    def expect_preview_primary(self, rgb: str) -> None:
        """The preview's primary button gets ``rgb`` (within 6 s: debounce + render)."""
        for _ in range(60):
            if background(self.preview_button) == rgb:
                return
            self.page.wait_for_timeout(100)
        assert background(self.preview_button) == rgb

    def flash(self) -> str | None:
        return self.page.locator(".adm-flash").get_attribute("data-message-id")


def partner_primary(page: Page, origin: str) -> str:
    page.goto(f"{origin}/?pool={POOL}")
    button = page.frame_locator("iframe").locator(".ws-button--primary").first
    expect(button).to_be_visible()
    # The button's colour transition (0.15 s) may still run when the widget's styles
    # settle after the first paint; read the colour it ends at.
    return str(
        button.evaluate(
            "el => Promise.all(el.getAnimations().map(a => a.finished))"
            ".then(() => getComputedStyle(el).backgroundColor)"
        )
    )


def test_designer_restyles_previews_publishes_and_rolls_back(page: Page, demo: Demo) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    studio = Studio(page, demo.widget_origin)
    partner = page.context.new_page()
    live_before = partner_primary(partner, demo.partner_origin)

    studio.sign_in()
    page.screenshot(path=SHOTS / "studio-home.png", full_page=True)
    studio.copy("dark")
    studio.expect_preview_primary(LIGHT_PRIMARY)

    # Version 1: the copy as it is, live on the partner's pool.
    page.locator('[data-action="publish"]').click()
    expect(page.locator(".adm-flash")).to_have_attribute("data-message-id", "studio.published")
    page.locator("#st-target").select_option(f"pool:{POOL}")
    page.locator('[data-action="assign"]').click()
    expect(page.locator(".adm-flash")).to_have_attribute("data-message-id", "studio.assigned")
    assert partner_primary(partner, demo.partner_origin) == LIGHT_PRIMARY != live_before

    # Edits show in the preview as they are typed: no save, no reload.
    page.evaluate("window.__noReload = 'still here'")
    page.locator("#t-colors-primary").fill(NEW_PRIMARY)
    studio.expect_preview_primary(NEW_PRIMARY_RGB)
    page.locator('input[data-upload="logo.asset"]').set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": _logo()}]
    )
    expect(page.locator('input[name="logo.asset"]')).to_have_value(re.compile(r"^[0-9a-f]{64}$"))
    expect(studio.preview.locator("img.ws-logo")).to_have_attribute(
        "src", re.compile(r"^/brand-assets/[0-9a-f]{64}$")
    )
    assert page.evaluate("window.__noReload") == "still here"
    # The preview's badge beside "Text on primary" follows too.
    expect(page.locator("#badge-light-button")).to_have_attribute("data-passes", "yes")
    # The live widget has not changed: a draft never reaches it.
    assert partner_primary(partner, demo.partner_origin) == LIGHT_PRIMARY

    page.screenshot(path=SHOTS / "studio-editor-desktop.png", full_page=False)
    page.locator('label:has(input[name="preview.device"][value="mobile"])').click()
    page.wait_for_timeout(300)
    page.screenshot(path=SHOTS / "studio-preview-390.png", full_page=False)
    studio.preview.locator("body").screenshot(path=SHOTS / "studio-preview-frame-390.png")
    page.locator('label:has(input[name="preview.device"][value="desktop"])').click()

    # Version 2: published, the partner's widget shows the new colour.
    page.locator('[data-action="publish"]').click()
    expect(page.locator(".adm-flash")).to_have_attribute("data-message-id", "studio.published")
    assert partner_primary(partner, demo.partner_origin) == NEW_PRIMARY_RGB
    partner.screenshot(path=SHOTS / "studio-partner-published.png", full_page=True)

    # Dark mode: the preview and the live widget follow the device.
    page.emulate_media(color_scheme="dark")
    page.reload()
    studio.expect_preview_primary(DARK_PRIMARY)
    page.screenshot(path=SHOTS / "studio-editor-dark.png", full_page=False)
    partner.emulate_media(color_scheme="dark")
    assert partner_primary(partner, demo.partner_origin) == DARK_PRIMARY
    page.emulate_media(color_scheme="light")
    partner.emulate_media(color_scheme="light")

    # Roll back to version 1: the partner's widget has the earlier colour again.
    page.locator('a[href$="/history"]').first.click()
    expect(page.locator('[data-version="2"]')).to_be_visible()
    page.screenshot(path=SHOTS / "studio-history.png", full_page=True)
    page.locator('[data-version="1"] [data-action="rollback"]').click()
    expect(page.locator(".adm-flash")).to_have_attribute("data-message-id", "studio.rolled_back")
    assert partner_primary(partner, demo.partner_origin) == LIGHT_PRIMARY

    # The studio at a phone's width.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(studio.preview_button).to_be_visible()
    page.screenshot(path=SHOTS / "studio-editor-mobile.png", full_page=False)
    page.goto(f"{demo.widget_origin}/admin/branding")
    page.screenshot(path=SHOTS / "studio-home-mobile.png", full_page=True)


def test_publishing_right_after_an_edit_publishes_once(page: Page, demo: Demo) -> None:
    """The contrast check fires 50-300 ms after an edit. A Publish clicked meanwhile must
    not ride on it: htmx takes the last clicked submit button's formaction for a request
    its form triggers, which posted a second, scripted publish (and the first answered
    "someone saved this theme since you opened it")."""
    studio = Studio(page, demo.widget_origin)
    studio.sign_in()
    studio.copy("forest")
    publishes: list[str | None] = []
    page.on(
        "request",
        lambda r: (
            publishes.append(r.headers.get("hx-request"))
            if r.method == "POST" and r.url.endswith("/publish")
            else None
        ),
    )
    page.locator("#t-colors-primary").fill("#1d4ed8")
    page.locator('[data-action="publish"]').click()
    expect(page.locator(".adm-flash")).to_have_attribute("data-message-id", "studio.published")
    page.wait_for_timeout(500)  # a stray scripted request would have gone by now
    assert publishes == [None]
    # The badges still follow the form as it is typed.
    page.locator("#t-colors-primary").fill("#fefefe")
    expect(page.locator("#badge-light-button")).to_have_attribute("data-passes", "no")
