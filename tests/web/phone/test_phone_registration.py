"""Registration by phone: the code by SMS, activation, the notice to a known number,
numbers refused by the pool's policy, and a pool that takes either (SQLite, PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Harness, deliver_all
from tests.sms.helpers import codes_in
from tests.web.login_client import LoginClient
from widget_server.models import Address, IdentitySchema, OutboxMessage, Pool, User
from widget_server.sms import MemorySms

PASSWORD = "Blue-Harbour-Kettle-42"
POOL = "partner-phone"
NUMBER = "+4915123456789"


async def register(widget: Any, typed: str, pool: str = POOL, **fields: str) -> Any:
    w = widget(pool)
    await w.open()
    page = await w.post(phone=typed, password=PASSWORD, **fields)
    return w, page


async def addresses(h: Harness) -> list[Address]:
    async with h.web.services.db.read() as session:
        return list((await session.execute(select(Address))).scalars())


async def test_register_by_phone_and_activate_with_the_texted_code(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    w, page = await register(widget, "0151 23456789")  # national format, read as DE

    assert (page.status, page.state) == (200, "code")
    assert "registration.check_phone" in page.message_ids
    assert "+49 ••• ••89" in page.text and NUMBER not in page.text
    assert "Check your phone" in page.text
    [address] = await addresses(harness)
    assert (address.kind, address.value, address.status) == ("phone", NUMBER, "unverified")

    await deliver_all(harness)
    [text] = sms.to(NUMBER)
    assert len(text.body) <= 160 and "http" not in text.body and "Partner 3" in text.body
    assert harness.sender.sent == []  # nothing went by email
    [code] = codes_in(sms, NUMBER)
    page = await w.code(code)

    assert page.state == "done"
    [address] = await addresses(harness)
    assert address.status == "verified"
    async with harness.web.services.db.read() as session:
        user = (await session.execute(select(User))).scalar_one()
        outbox = (await session.execute(select(OutboxMessage))).scalar_one()
    assert (user.status, user.payload) == ("active", {"phone": NUMBER})
    assert (outbox.channel, outbox.status, outbox.body_text) == ("sms", "sent", "")


async def test_a_known_number_gets_a_notice_and_the_page_looks_the_same(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    first, _ = await register(widget, "+49 151 23456789")
    await deliver_all(harness)
    await first.code(codes_in(sms, NUMBER)[0])

    w, page = await register(widget, "0049 151 2345 6789")
    _, new_page = await register(widget, "+49 152 23456789")
    assert (page.state, page.message_ids) == (new_page.state, new_page.message_ids)
    await deliver_all(harness)

    notice = sms.to(NUMBER)[-1]
    assert "already have an account" in notice.body and not re.search(r"\d{6}", notice.body)
    assert len(sms.to("+4915223456789")) == 1
    page = await w.code("123456")  # no code can succeed for the known number
    assert page.state == "code" and page.field_errors("code")
    assert len(await addresses(harness)) == 2


@pytest.mark.parametrize(
    ("typed", "message_id"),
    [
        ("+44 909 8790000", "phone.type_refused"),  # premium rate
        ("+1 900 555 0100", "phone.type_refused"),
        ("+49 180 1 2345", "phone.type_refused"),  # shared cost
        ("+44 800 123 4567", "phone.type_refused"),  # toll free
        ("call me", "phone.letters"),  # letters: never keypad digits
        ("+49 1", "phone.invalid"),
        ("1" * 10_000, "form.too_long"),
    ],
)
async def test_numbers_nobody_should_text_are_refused_on_the_field(
    harness: Harness, widget: Any, sms: MemorySms, typed: str, message_id: str
) -> None:
    _, page = await register(widget, typed)
    assert (page.state, page.field_errors("phone")) == ("form", [message_id])
    assert await addresses(harness) == []
    await deliver_all(harness)
    assert sms.sent == []


async def test_a_number_outside_the_pool_regions_is_refused(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    async with harness.web.services.db.write() as session:
        await session.execute(
            update(Pool).where(Pool.id == POOL).values(phone_regions=["AT", "CH"])
        )
    harness.web.services.pools.forget(POOL)

    _, page = await register(widget, "+49 151 23456789")
    assert page.field_errors("phone") == ["phone.region_refused"]
    assert "Austria, Switzerland" in page.text and "AT, CH" not in page.text
    _, page = await register(widget, "+43 664 1234567")
    assert page.state == "code"
    await deliver_all(harness)
    assert [t.to for t in sms.sent] == ["+436641234567"]


async def test_resend_texts_a_new_code(harness: Harness, widget: Any, sms: MemorySms) -> None:
    w, _ = await register(widget, NUMBER)
    harness.clock.advance(harness.settings.code_resend_cooldown_seconds + 1)
    page = await w.resend()
    assert page.state == "code"
    await deliver_all(harness)
    first, second = codes_in(sms, NUMBER)
    assert (await w.code(first)).state == "code"  # retired by the resend
    assert (await w.code(second)).state == "done"


EITHER = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "x-identifier": True},
        "phone": {"type": "string", "format": "tel", "x-default-region": "DE"},
    },
    "required": ["email"],
    "additionalProperties": False,
}


async def _either_pool(h: Harness, methods: list[str]) -> None:
    async with h.web.services.db.write() as session:
        session.add(
            IdentitySchema(
                id="either",
                tenant_id="acme",
                name="Email, phone optional",
                kind="payload",
                body=EITHER,
                builtin=False,
                created_at=h.clock.now(),
            )
        )
        await session.flush()
        await session.execute(
            update(Pool)
            .where(Pool.id == "partner-2")
            .values(payload_schema_id="either", activation_methods=methods)
        )
    h.web.services.pools.forget("partner-2")


async def test_either_pool_texts_when_a_number_is_given_and_mails_otherwise(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    await _either_pool(harness, ["phone", "email"])
    _, with_phone = await register(widget, "0151 23456789", "partner-2", email="a@example.com")
    w = widget("partner-2")
    await w.open()
    without = await w.post(email="b@example.com", password=PASSWORD)
    await deliver_all(harness)

    assert "registration.check_phone" in with_phone.message_ids
    assert "registration.check_email" in without.message_ids
    assert [t.to for t in sms.sent] == [NUMBER]
    assert [e.recipient for e in harness.sender.sent] == ["b@example.com"]
    kinds = sorted((a.kind, a.value) for a in await addresses(harness))
    assert kinds == [("email", "b@example.com"), ("phone", NUMBER)]


async def test_email_first_pools_keep_mailing_even_with_a_number(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    await _either_pool(harness, ["email", "phone"])
    _, page = await register(widget, "0151 23456789", "partner-2", email="a@example.com")
    await deliver_all(harness)
    assert "registration.check_email" in page.message_ids
    assert sms.sent == [] and len(harness.sender.sent) == 1


async def test_the_hourly_limit_holds_for_a_number(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    limit = harness.settings.mail_per_address_per_hour
    for _ in range(limit + 2):
        _, page = await register(widget, NUMBER)
        assert page.state == "code"  # the page never tells
    async with harness.web.services.db.read() as session:
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert queued == limit


async def test_a_number_registered_by_sms_logs_in_in_any_format(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    w, _ = await register(widget, "+49 151 23456789")
    await deliver_all(harness)
    assert (await w.code(codes_in(sms, NUMBER)[0])).state == "done"

    client = LoginClient(harness, POOL)
    assert (await client.log_in("0151 2345 6789", PASSWORD)).state == "done"
    stranger = LoginClient(harness, POOL)
    page = await stranger.log_in("+44 909 8790000", PASSWORD)  # refused by the policy
    assert page.message_ids == ["login.failed"]


async def test_a_banking_template_pool_texts_its_code(
    harness: Harness, widget: Any, sms: MemorySms, operator: Any
) -> None:
    created = await operator.post(
        "/pools", json={"id": "bank", "name": "Bank", "template": "banking"}
    )
    assert created.status_code == 201, created.text
    w = widget("bank")
    await w.open()
    page = await w.post(email="anna@example.com", password="Blue-Harbour-Kettle-42!")
    assert page.step == "person", page.message_ids
    await w.post(
        given_name="Anna",
        family_name="Schmidt",
        date_of_birth="1990-04-01",
        nationality="DE",
        phone="+49 151 23456789",
    )
    await w.post(street="Hauptstraße 1", postal_code="10115", city="Berlin", country="DE")
    page = await w.post(terms="on", privacy="on")
    assert "registration.check_phone" in page.message_ids
    await deliver_all(harness)

    assert harness.sender.sent == []
    [code] = codes_in(sms, NUMBER)
    assert (await w.code(code)).state == "done"
    [address] = await addresses(harness)
    assert (address.kind, address.value, address.status) == ("phone", NUMBER, "verified")


async def test_letters_are_refused_not_read_as_keypad_digits(
    harness: Harness, widget: Any, sms: MemorySms
) -> None:
    """``+49 151 ABCDEFGH`` was accepted as +49 151 22233344 and a code went to a stranger."""
    for typed in ("+49 151 ABCDEFGH", "0151 2345678O"):
        _, page = await register(widget, typed)
        assert (page.state, page.field_errors("phone")) == ("form", ["phone.letters"])
    assert await addresses(harness) == []
    await deliver_all(harness)
    assert sms.sent == []


async def test_the_password_rules_name_the_phone_number(harness: Harness, widget: Any) -> None:
    w = widget(POOL)
    page = await w.open()
    assert "Not similar to your phone number" in page.text
    assert "email address" not in page.text
