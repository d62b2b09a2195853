"""Administrators create users in phone-identifier pools: the pool's identifier decides
(``phone`` required, ``email`` refused); a ``new`` user gets the activation code and link
by SMS, like self-registration, and activates on the widget's page."""

from __future__ import annotations

import re

from tests.admin.keys import MakeKey
from tests.conftest import Harness, deliver_all, rows
from tests.web.test_invitation import PASSWORD, Invited
from widget_server.models import Address, User
from widget_server.sms import MemorySms

POOL = "partner-phone"
NUMBER = "+4915123456789"


async def test_a_new_phone_user_gets_the_invitation_by_sms_and_activates(
    harness: Harness, make_key: MakeKey, sms: MemorySms
) -> None:
    admin = await make_key("pool_admin", POOL)
    made = await admin.post(f"/pools/{POOL}/users", json={"phone": "0151 23456789"})
    assert made.status_code in (200, 201), made.text
    user_id = made.json()["id"]
    [address] = [a for a in await rows(harness, Address) if a.user_id == user_id]
    assert (address.kind, address.value, address.status) == ("phone", NUMBER, "unverified")

    await deliver_all(harness)
    [text] = sms.to(NUMBER)
    assert harness.sender.sent == []  # nothing by email
    code = re.search(r"\b(\d{6})\b", text.body)
    link = re.search(r"http://localhost:8000(/embed/\S+)", text.body)
    assert code is not None and link is not None, text.body

    w = Invited(harness, link.group(1))
    assert (await w.open()).state == "code"
    assert (await w.post("/code", code=code.group(1))).state == "password"
    assert (await w.post("/password", password=PASSWORD)).state == "done"
    [user] = [u for u in await rows(harness, User) if u.id == user_id]
    assert user.status == "active" and user.payload == {"phone": NUMBER}


async def test_the_pools_identifier_decides_which_field_is_required(
    make_key: MakeKey,
) -> None:
    operator = await make_key("tenant_admin")
    wrong = await operator.post(f"/pools/{POOL}/users", json={"email": "a@example.com"})
    assert wrong.status_code == 422
    assert [(e["field"], e["id"]) for e in wrong.json()["errors"]] == [
        ("email", "admin.identifier_is_phone")
    ]
    letters = await operator.post(f"/pools/{POOL}/users", json={"phone": "+49 151 ABCDEFGH"})
    assert [(e["field"], e["id"]) for e in letters.json()["errors"]] == [
        ("phone", "phone.letters")
    ]
    email_pool = await operator.post("/pools/partner-1/users", json={"phone": NUMBER})
    assert [(e["field"], e["id"]) for e in email_pool.json()["errors"]] == [
        ("phone", "admin.identifier_is_email")
    ]


async def test_an_active_phone_user_with_a_password_gets_no_message(
    harness: Harness, make_key: MakeKey, sms: MemorySms
) -> None:
    operator = await make_key("tenant_admin")
    made = await operator.post(
        f"/pools/{POOL}/users",
        json={"phone": NUMBER, "status": "active", "password": PASSWORD},
    )
    assert made.status_code in (200, 201), made.text
    await deliver_all(harness)
    assert sms.sent == []
    taken = await operator.post(f"/pools/{POOL}/users", json={"phone": "0151 23456789"})
    assert [(e["field"], e["id"]) for e in taken.json()["errors"]] == [
        ("phone", "admin.address_taken")
    ]
