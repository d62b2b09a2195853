"""The account portal and the MFA step on the phone pool (partner-phone: a mobile number
is the identifier, national numbers read as DE): numbers added by a code texted through
the outbox, and a phone-only user's second factor by text (SQLite, PostgreSQL)."""

from __future__ import annotations

import re

from sqlalchemy import update

from tests.auth.people import Person, make_user
from tests.conftest import Harness, deliver_all, rows
from tests.sms.helpers import codes_in
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from widget_server.auth import sessions
from widget_server.models import Address, Pool, User
from widget_server.sms import MemorySms

POOL = "partner-phone"
NUMBER = "+4915123456789"
SECOND = "+4915198765432"


async def phone_only(h: Harness) -> Person:
    """A user of the phone pool whose only address is a verified mobile number."""
    person = await make_user(h, "unused@example.com", pool=POOL, phone=NUMBER)
    async with h.web.services.db.write() as db:
        await db.execute(
            update(User).where(User.id == person.user_id).values(payload={"phone": NUMBER})
        )
        await db.execute(
            update(Address)
            .where(Address.user_id == person.user_id, Address.kind == "email")
            .values(status="unverified")
        )
    return Person(person.user_id, POOL, NUMBER, person.password)


async def test_a_second_number_is_added_by_a_texted_code(harness: Harness, sms: MemorySms) -> None:
    person = await phone_only(harness)
    account = AccountClient(harness, pool=POOL)
    page = await account.sign_in("0151 23456789", person.password)
    assert 'name="address" type="text"' in page.text
    assert "Email addresses and phone numbers" in page.text
    page = await account.post("addresses", address="0900 1234567")  # premium rate
    assert page.status == 422 and page.field_errors("address") == ["phone.type_refused"]
    page = await account.post("addresses", address="0151 98765432")
    assert page.status == 200 and "account.address_code_sent" in account.section_messages(
        "addresses"
    )
    await deliver_all(harness)
    [code] = codes_in(sms, SECOND)
    page = await account.post("addresses/verify", code=code)
    assert "account.address_verified" in account.section_messages("addresses")
    found = {(a.kind, a.value, a.status) for a in await rows(harness, Address)}
    assert ("phone", SECOND, "verified") in found
    # The sign-in number stays; the new one can go.
    assert f'data-address="{NUMBER}"' in page.text
    assert page.text.count('data-action="remove-address"') >= 1
    login = LoginClient(harness, pool=POOL)
    assert (await login.log_in("0151 98765432", person.password)).state == "done"


async def test_a_number_of_another_account_gets_a_notice_not_a_code(
    harness: Harness, sms: MemorySms
) -> None:
    person = await phone_only(harness)
    await make_user(harness, "other@example.com", pool=POOL, phone=SECOND)
    account = AccountClient(harness, pool=POOL)
    await account.sign_in(NUMBER, person.password)
    page = await account.post("addresses", address=SECOND)
    assert page.status == 200 and "account.address_code_sent" in account.section_messages(
        "addresses"
    )
    await deliver_all(harness)
    assert codes_in(sms, SECOND) == [] and len(sms.to(SECOND)) == 1
    page = await account.post("addresses/verify", code="123456")
    assert page.field_errors("code") == ["code.invalid"]


async def test_a_phone_only_user_gets_the_second_factor_by_text(
    harness: Harness, sms: MemorySms
) -> None:
    person = await phone_only(harness)
    async with harness.web.services.db.write() as db:
        await db.execute(update(Pool).where(Pool.id == POOL).values(mfa="required", version=9))
    harness.web.services.pools.forget(POOL)
    client = LoginClient(harness, pool=POOL)
    page = await client.log_in(NUMBER, person.password)
    assert page.state == "mfa" and "+49" in page.text and client.token is None
    await deliver_all(harness)
    [code] = codes_in(sms, NUMBER)
    form = re.search(r'data-mfa-method="email".*?</form>', page.text, re.S)
    assert form is not None
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(0)))
    done = await client.post(f"/embed/{POOL}/login/mfa", fields | {"code": code})
    assert done.state == "done"
    live = await sessions.current_session(harness.web.services, client.token, POOL)
    assert live is not None and live.amr == ("pwd", "otp")
