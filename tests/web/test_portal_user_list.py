"""The portal's users list: cursors in links, page sizes, sorts, totals, row selection,
and never "No users yet" for a pool that has users."""

from __future__ import annotations

import html
import re

from tests.admin.test_user_search import seed
from tests.conftest import Harness
from tests.web.conftest import Login
from tests.web.portal_client import OPERATOR, message_ids
from widget_server.users import search

USERS = "/admin/pools/business-1/users"


def links(page_text: str) -> dict[str, str]:
    found = re.findall(r'<a class="adm-btn[^"]*" href="([^"]+)" rel="(\w+)"', page_text)
    return {rel: html.unescape(href) for href, rel in found}


def rows(page_text: str) -> list[str]:
    return re.findall(r'<tr data-user="([^"]+)"', page_text)


async def test_pages_by_cursor_both_ways(h: Harness, login: Login) -> None:
    ids = await seed(h)
    portal = await login(OPERATOR)
    first = await portal.get(USERS, params={"size": "3", "sort": "created"})
    assert first.status_code == 200
    assert rows(first.text) == ids[:3]
    assert "7 users" in first.text and "No users yet" not in first.text
    assert set(links(first.text)) == {"next", "last"}
    second = await portal.get(links(first.text)["next"])
    assert rows(second.text) == ids[3:6]
    assert set(links(second.text)) == {"first", "prev", "next", "last"}
    last = await portal.get(links(second.text)["last"])
    assert rows(last.text) == ids[4:]
    back = await portal.get(links(last.text)["prev"])
    assert rows(back.text) == ids[1:4]
    # Row selection for bulk actions: one checkbox per row of the bulk form.
    assert all(f'form="bulk-form" name="ids" value="{i}"' in first.text for i in ids[:3])
    # "All matching this search": the list's filters travel as the bulk form's fields.
    assert all(f'form="bulk-form" name="{k}"' in first.text for k in ("q", "name", "status"))


async def test_past_the_end_is_never_no_users_yet(h: Harness, login: Login) -> None:
    await seed(h)
    portal = await login(OPERATOR)
    beyond = search.encode_cursor(
        search.Position("created", "a", "2999-01-01T00:00:00+00:00", "zzzz")
    )
    page = await portal.get(USERS, params={"sort": "created", "cursor": beyond})
    assert page.status_code == 200
    assert "No users yet" not in page.text and "No users on this page" in page.text


async def test_a_bad_cursor_is_400_with_its_message(h: Harness, login: Login) -> None:
    await seed(h)
    portal = await login(OPERATOR)
    page = await portal.get(USERS, params={"cursor": "garbage"})
    assert page.status_code == 400
    assert "admin.bad_cursor" in message_ids(page)
