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


#: Pages that still scroll sideways at 390 px: a known bug, pinned so that a fix (or a
#: new one) shows.
KNOWN_WIDE: set[str] = {"/admin/admins", "/admin/apps"}


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
    # Pinned, strictly: pages that still scroll sideways at 390 px (see the report).
    assert {re.sub(r"/[0-9a-f-]{20,}$", "/<id>", p) for p in wide} == KNOWN_WIDE, wide


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


def test_users_list_screens_and_skip_link(operator: Page, demo: Demo) -> None:
    page = operator
    page.goto(f"{demo.widget_origin}/admin/pools/business-1/users")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / "opsearch-users-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    page.screenshot(path=SHOTS / "opsearch-users-390.png", full_page=True)
    expect(page.get_by_role("button", name="Menu")).to_be_visible()
    # A search is announced in the live region that stays in the page.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("searchbox", name="Name").fill("zz-nobody")
    expect(page.locator("#live")).to_have_text(re.compile(r"0 users"))
