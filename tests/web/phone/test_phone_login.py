"""Phone identifiers: log in and recover a password with a mobile number on the phone pool
(partner-phone: national numbers read as DE), the recovery code by SMS (SQLite, PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.auth.people import make_user
from tests.conftest import FlowPage, Harness, deliver_all
from tests.web.login_client import LoginClient
from widget_server.sms import MemorySms

POOL = "partner-phone"
NUMBER = "+4915123456789"


async def phone_user(h: Harness) -> Any:
    return await make_user(h, "phone-user@example.com", pool=POOL, phone=NUMBER)


@pytest.mark.parametrize("typed", ["0151 23456789", "+49 151 23456789", "0049 151-2345-6789"])
async def test_log_in_with_a_number_in_any_format(harness: Harness, typed: str) -> None:
    person = await phone_user(harness)
    client = LoginClient(harness, pool=POOL)
    page = await client.open()
    # The pool knows its users by number (issue 17: it said "Email or phone number").
    assert ">Phone number<" in page.text and "Email or phone number" not in page.text
    assert 'type="text"' in page.text
    page = await client.submit(typed, person.password)
    assert page.state == "done" and client.token is not None


@pytest.mark.parametrize(
    "typed",
    [
        "+1 650 253 0000",  # a region the pool does not list
        "0900 1234567",  # premium rate
        "0151 2345",  # too short to be a number
        "1" * 400,  # absurdly long
    ],
)
async def test_numbers_the_pool_refuses_are_unknown_accounts(harness: Harness, typed: str) -> None:
    person = await phone_user(harness)
    page = await LoginClient(harness, pool=POOL).log_in(typed, person.password)
    assert page.status == 400 and page.message_ids == ["login.failed"]


async def test_recover_by_sms(harness: Harness, sms: MemorySms) -> None:
    person = await phone_user(harness)
    path = f"/embed/{POOL}/recover"
    hx = {"HX-Request": "true"}
    page = FlowPage(await harness.client.get(path, headers=hx), POOL)
    page = FlowPage(
        await harness.client.post(
            path, data=page.hidden | {"identifier": "0151 23456789"}, headers=hx
        ),
        POOL,
    )
    assert page.state == "code" and page.message_ids == ["recovery.sent"]
    await deliver_all(harness)
    [text] = sms.to(NUMBER)
    assert harness.sender.sent == []  # nothing by email for a phone identifier
    code = re.search(r"\b(\d{6})\b", text.body)
    assert code is not None and len(text.body) <= 160
    page = FlowPage(
        await harness.client.post(
            path + "/code", data=page.hidden | {"code": code.group(1)}, headers=hx
        ),
        POOL,
    )
    assert page.state == "password"
    page = FlowPage(
        await harness.client.post(
            path + "/password",
            data=page.hidden | {"password": "a new phone passphrase"},
            headers=hx,
        ),
        POOL,
    )
    assert page.state == "done"
    # The number hears of the reset: a security notice by SMS, one segment, no link.
    await deliver_all(harness)
    [_, notice] = sms.to(NUMBER)
    assert "password was just reset" in notice.body and len(notice.body) <= 160
    assert "http" not in notice.body
    page = await LoginClient(harness, pool=POOL).log_in(NUMBER, "a new phone passphrase")
    assert page.state == "done"
    assert (await LoginClient(harness, pool=POOL).log_in(NUMBER, person.password)).status == 400
