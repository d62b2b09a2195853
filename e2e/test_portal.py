"""The admin portal in Chromium, against the real demo and its SMTP sink.

A pool admin (the team lead of Business 1) invites a team member as ``new``; the member
opens the emailed link, enters the code and chooses a password in the widget; the lead
sees them ``active``. The operator's pages are walked too, for their screenshots.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from harness import Demo, Mailbox
from pages import WidgetFrame
from playwright.sync_api import Browser, Page, expect

from widget_server.seed import DEMO_ADMINS

OPERATOR, LEAD = DEMO_ADMINS[0], DEMO_ADMINS[1]
STRONG_PASSWORD = "Lantern-tundra-Gq7-42"
MEMBER = {
    "first_name": "Mia",
    "last_name": "Member",
    "date_of_birth": "1991-03-08",
    "company": "Business One",
    "job_title": "Analyst",
}


class Portal:
    """The portal as a person uses it; selectors follow its ``id``/``data-*`` hooks."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin

    def sign_in(self, email: str, password: str) -> None:
        self.page.goto(f"{self.origin}/admin")
        expect(self.page).to_have_url(re.compile(r"/admin/login"))
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator(".adm-sidebar")).to_be_visible()

    def open(self, path: str) -> None:
        self.page.goto(f"{self.origin}{path}")

    def field(self, name: str) -> str:
        return f'[name="{name}"]'

    def user_status(self) -> str | None:
        return self.page.locator("#user-status").get_attribute("data-status")


def test_pool_admin_invites_a_member_who_activates_in_the_widget(
    page: Page, browser: Browser, demo: Demo, mailbox: Mailbox, shot: Callable[..., None]
) -> None:
    email = f"mia-{uuid.uuid4().hex[:8]}@example.com"
    portal = Portal(page, demo.widget_origin)
    page.goto(f"{demo.widget_origin}/admin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "portal-login", mobile=True)

    portal.sign_in(LEAD.email, LEAD.password)
    # The lead's sidebar has their pool only, and no tenant pages.
    expect(page.locator(".adm-nav-pool")).to_have_count(1)
    expect(page.locator('a[href="/admin/schemas"]')).to_have_count(0)
    shot(page, "portal-dashboard-pool-admin")

    portal.open("/admin/pools/business-1/users")
    page.get_by_role("link", name="New user").first.click()
    page.fill(portal.field("email"), email)
    page.check('input[name="status"][value="new"]')
    for name, value in MEMBER.items():
        page.fill(portal.field(name), value)
    page.select_option(portal.field("country"), "DE")
    page.check(portal.field("terms"))
    shot(page, "portal-new-user")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator('[data-message-id="admin.user_created"]')).to_be_visible()
    assert portal.user_status() == "new"
    user_url = page.url
    shot(page, "portal-user-invited")

    # The member, in a browser of their own, follows the emailed link.
    mail = mailbox.wait_for(email, lambda e: e.code is not None)
    link = re.search(r"https?://\S+/activate/\S+", mail.body)
    assert link is not None and mail.code is not None
    member_context = browser.new_context()
    try:
        member_page = member_context.new_page()
        member_page.goto(link.group(0))
        widget = WidgetFrame(member_page)
        widget.enter_code(mail.code)
        widget.expect_state("password")
        widget.control("password").fill(STRONG_PASSWORD)
        widget.primary_button.click()
        widget.expect_state("done")
        shot(member_page, "portal-member-activated")
    finally:
        member_context.close()

    page.goto(user_url)
    expect(page.locator("#user-status")).to_have_attribute("data-status", "active")
    shot(page, "portal-user-active")

    # Live search: typing narrows the list without a page load.
    portal.open("/admin/pools/business-1/users")
    page.fill('input[name="q"]', email.split("@")[0])
    expect(page).to_have_url(re.compile(r"q=mia-"))
    expect(page.locator("#users-table tbody tr")).to_have_count(1)
    expect(page.locator('#users-table tr[data-status="active"]')).to_have_count(1)
    shot(page, "portal-users")

    portal.open("/admin/pools/business-1/audit")
    expect(page.locator('tr[data-action="user.create"]').first).to_be_visible()
    shot(page, "portal-audit")
    # Another pool is not there for the lead: the same page as a missing one.
    response = page.goto(f"{demo.widget_origin}/admin/pools/partner-1/users")
    assert response is not None and response.status == 404
    shot(page, "portal-not-found")


def test_operator_pages(page: Page, demo: Demo, shot: Callable[..., None]) -> None:
    portal = Portal(page, demo.widget_origin)
    portal.sign_in(OPERATOR.email, OPERATOR.password)
    expect(page.locator('[data-pool="business-1"]')).to_be_visible()
    shot(page, "portal-dashboard", mobile=True)

    portal.open("/admin/pools/business-1")
    expect(page.get_by_role("button", name="Save settings")).to_be_visible()
    shot(page, "portal-pool-settings")
    # A refused change comes back with the message under its field.
    page.fill('textarea[name="allowed_origins"]', "not an origin")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#err-allowed_origins")).to_be_visible()
    shot(page, "portal-pool-settings-error")

    portal.open("/admin/pools/new")
    page.check('input[name="template"][value="banking"]')
    page.fill('input[name="name"]', "Northwind Insurance")
    page.fill('input[name="id"]', f"northwind-{uuid.uuid4().hex[:6]}")
    shot(page, "portal-new-pool")
    page.get_by_role("button", name="Create pool").click()
    expect(page.locator('[data-message-id="admin.pool_created"]')).to_be_visible()

    portal.open("/admin/admins")
    page.check('input[name="kind"][value="api_key"]')
    page.fill('input[name="name"]', "CRM sync")
    page.select_option('select[name="role"]', "pool_admin")
    page.select_option('select[name="pool_id"]', "partner-1")
    page.get_by_role("button", name="Add administrator").click()
    expect(page.locator("[data-api-key]")).to_contain_text("wsk_")
    shot(page, "portal-admins")

    portal.open("/admin/schemas")
    expect(page.locator("#schemas-table")).to_be_visible()
    shot(page, "portal-schemas")
    page.locator("#schemas-table a.adm-primary-cell").first.click()
    expect(page.locator("#schema-form fieldset[disabled]")).to_have_count(1)
    shot(page, "portal-schema-builtin")
