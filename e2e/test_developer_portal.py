"""The developer portal in Chromium: the demo's developer of Partner 1 signs in, sees its
pool, picks a React snippet and copies it, and reads the reference."""

from __future__ import annotations

from collections.abc import Callable

from harness import Demo
from playwright.sync_api import BrowserContext, Page, expect

from widget_server.seed import DEMO_ADMINS

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")


def test_developer_signs_in_and_copies_a_react_snippet(
    page: Page, context: BrowserContext, demo: Demo, shot: Callable[..., None]
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.widget_origin)
    page.goto(f"{demo.widget_origin}/developers")
    expect(page).to_have_url(f"{demo.widget_origin}/developers/login")
    expect(page.get_by_text("For partner developers")).to_be_visible()
    page.fill('input[name="email"]', DEVELOPER.email)
    page.fill('input[name="password"]', DEVELOPER.password)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator('#pools-table tr[data-pool="partner-1"]')).to_be_visible()
    expect(page.locator('#pools-table tr[data-pool="partner-2"]')).to_have_count(0)
    shot(page, "dev-01-overview", mobile=True)

    page.locator('#pools-table tr[data-pool="partner-1"]').get_by_role("link").click()
    page.select_option('select[name="framework"]', "react")
    expect(page.locator("#snippet h2")).to_have_text("React")
    expect(page).to_have_url(
        f"{demo.widget_origin}/developers/snippets?pool=partner-1&flow=register&app=&framework=react&color_scheme=auto"
    )
    code = page.locator("#snippet-code")
    expect(code).to_contain_text("partner-1")
    expect(code).to_contain_text(demo.widget_origin)
    page.locator('#snippet [data-copy="#snippet-code"]').click()
    expect(page.locator('#snippet [data-copy="#snippet-code"]')).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == code.text_content()
    shot(page, "dev-02-snippet-react")

    page.get_by_role("link", name="Reference").click()
    expect(page.locator("#events")).to_be_visible()
    expect(page.locator("#webhooks")).to_contain_text("user.registered")
    shot(page, "dev-03-reference")
