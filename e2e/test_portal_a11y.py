"""The operator portal for people who use a keyboard, a screen reader or a phone:
axe-core (4.12, bundled by axe-playwright-python) over every portal page with no
serious or critical violation, a confirmation dialog driven by the keyboard alone, and
no sideways scrolling at 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from harness import Demo
from playwright.sync_api import Page, expect

from widget_server.seed import DEMO_ADMINS

OPERATOR = DEMO_ADMINS[0]
SHOTS = Path("/tmp/team/shots")
PHONE = {"width": 390, "height": 844}
#: Every page of the operator portal (the brand studio's pages are its own).
PAGES = (
    "/admin",
    "/admin/pools/new",
    "/admin/pools/business-1",
    "/admin/pools/business-1/users",
    "/admin/pools/business-1/users?name=zz-nobody",
    "/admin/pools/business-1/users/new",
    "/admin/pools/business-1/audit",
    "/admin/schemas",
    "/admin/admins",
    "/admin/apps",
    "/admin/audit",
    "/admin/pools/no-such-pool/users",
)


def sign_in(page: Page, origin: str) -> None:
    page.goto(f"{origin}/admin")
    expect(page).to_have_url(re.compile(r"/admin/login"))
    page.get_by_label("Email").fill(OPERATOR.email)
    page.get_by_label("Password").fill(OPERATOR.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".adm-sidebar")).to_be_visible()


def serious(page: Page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.fixture
def operator(page: Page, demo: Demo) -> Iterator[Page]:
    sign_in(page, demo.widget_origin)
    yield page


def first_user_path(page: Page, origin: str) -> str:
    page.goto(f"{origin}/admin/pools/business-1/users")
    href = page.locator("#users-table a.adm-primary-cell, #users-table td.adm-primary-cell a")
    if href.count() == 0:
        return ""
    return str(href.first.get_attribute("href"))


def test_every_portal_page_passes_axe(operator: Page, demo: Demo) -> None:
    origin = demo.widget_origin
    paths = list(PAGES)
    user = first_user_path(operator, origin)
    if user:
        paths.append(user)
    operator.goto(f"{origin}/admin/schemas")
    schema = operator.locator("#schemas-table a").first.get_attribute("href")
    paths.append(str(schema))
    problems: dict[str, list[str]] = {}
    wide: dict[str, int] = {}
    for path in paths:
        operator.goto(f"{origin}{path}")
        for size in ({"width": 1280, "height": 900}, PHONE):
            operator.set_viewport_size(size)  # type: ignore[arg-type]
            found = serious(operator)
            if found:
                problems[f"{path} @{size['width']}"] = found
        operator.set_viewport_size(PHONE)  # type: ignore[arg-type]
        width = operator.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[path] = width
        operator.set_viewport_size({"width": 1280, "height": 900})
    assert problems == {}
    assert wide == {}, "pages that scroll sideways at 390 px"


def test_login_page_passes_axe(page: Page, demo: Demo) -> None:
    page.goto(f"{demo.widget_origin}/admin/login")
    assert serious(page) == []


def test_delete_pool_confirmation_is_a_keyboard_dialog(operator: Page, demo: Demo) -> None:
    page = operator
    page.goto(f"{demo.widget_origin}/admin/pools/partner-2")
    trigger = page.get_by_role("button", name=re.compile("Delete this pool"))
    trigger.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name(re.compile("Delete this pool"))
    # Focus moved in, on Cancel: the safe choice.
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "opsearch-dialog.png")
    # Focus is held: Tab cycles through the dialog's buttons only.
    for _ in range(4):
        page.keyboard.press("Tab")
        inside = page.evaluate("document.activeElement.closest('dialog') !== null")
        at_top = page.evaluate("document.activeElement === document.body")
        assert inside or at_top
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(trigger).to_be_focused()
    # Cancel closes it too, and focus comes back to the trigger.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").press("Enter")
    expect(dialog).to_be_hidden()
    expect(trigger).to_be_focused()
    expect(page.locator("body")).not_to_have_class(re.compile("deleted"))


def test_skip_link_menu_and_live_region(operator: Page, demo: Demo) -> None:
    page = operator
    page.goto(f"{demo.widget_origin}/admin/pools/business-1/users")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    expect(page.get_by_role("link", name="Schemas")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Schemas")).to_be_visible()
    # A search is announced in the live region that stays in the page.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("searchbox", name="Name").fill("zz-nobody")
    expect(page.locator("#live")).to_have_text(re.compile(r"0 users"))


PEOPLE = (
    ("ada.lovelace@a11y.example.com", "Ada", "Lovelace", "Analytical Engines", "DE"),
    ("grace.hopper@a11y.example.com", "Grace", "Hopper", "Navy Computing", "FR"),
    ("alan.turing@a11y.example.com", "Alan", "Turing", "Bletchley Park", "GB"),
)


def create_member(page: Page, origin: str, person: tuple[str, ...]) -> None:
    email, first, last, company, country = person
    page.goto(f"{origin}/admin/pools/business-1/users/new")
    page.fill('input[name="email"]', email)
    page.fill('input[name="first_name"]', first)
    page.fill('input[name="last_name"]', last)
    page.fill('input[name="date_of_birth"]', "1990-12-10")
    page.fill('input[name="company"]', company)
    page.select_option('select[name="country"]', country)
    page.check('input[name="terms"]')
    page.get_by_role("button", name="Create user").click()
    expect(page.locator('[data-message-id="admin.user_created"]')).to_be_visible()


def test_users_list_and_edit_form_with_people(operator: Page, demo: Demo) -> None:
    page, origin = operator, demo.widget_origin
    for person in PEOPLE:
        create_member(page, origin, person)
    # Saved: focus and the announcement go to the result.
    expect(page.locator(".adm-flash")).to_be_focused()
    page.get_by_label("Company").fill("Analytical Engines Ltd")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator('[data-message-id="admin.user_updated"]')).to_be_focused()
    expect(page.locator("#user-payload")).to_contain_text("Analytical Engines Ltd")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "opsearch-user-edit.png", full_page=True)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.screenshot(path=SHOTS / "opsearch-user-edit-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    # Other tests share the demo's pool: list only this test's people (by address part).
    page.goto(f"{origin}/admin/pools/business-1/users?q=a11y.example.com&sort=name&size=25")
    expect(page.locator("#users-table tbody tr")).to_have_count(3)
    expect(page.locator("#users-count")).to_have_text("3 users")
    first = page.locator("#users-table tbody tr").first
    expect(first).to_contain_text("ada.lovelace@a11y.example.com")
    expect(first.locator('input[type="checkbox"][name="ids"][form="bulk-form"]')).to_have_count(1)
    page.screenshot(path=SHOTS / "opsearch-users-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.screenshot(path=SHOTS / "opsearch-users-390.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    # A name search, announced; the pager pages by cursor without "No users yet".
    page.get_by_role("searchbox", name="Name").fill("hopp")
    expect(page.locator("#users-table tbody tr")).to_have_count(1)
    expect(page.locator("#live")).to_have_text(re.compile(r"1 user"))
    page.goto(f"{origin}/admin/pools/business-1/users?sort=name&size=25")
    page.select_option('select[name="size"]', "25")
    assert serious(page) == []
