"""One identifier, one account: every surface reads an address through canonical.py, so
a full-width spelling is the same account and a mixed-script look-alike the same refusal
everywhere (registration, login, recovery, admin create, account addresses, search)."""

from __future__ import annotations

from sqlalchemy import select

from tests.admin.keys import AdminClient
from tests.auth.people import make_user
from tests.conftest import FlowPage, Harness
from tests.web.login_client import LoginClient
from widget_server.account.addresses import read_address
from widget_server.errors import InvalidInput
from widget_server.models import Address, User

FULL_WIDTH = "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"  # noqa: RUF001 - the look-alike under test
LOOK_ALIKE = "j\u0430ne@example.com"  # Cyrillic a
PASSWORD = "Blue-Harbour-Kettle-42"


async def addresses(h: Harness) -> list[str]:
    async with h.web.services.db.read() as session:
        return sorted((await session.execute(select(Address.value))).scalars())


async def test_full_width_registration_is_the_plain_account_and_logs_in(
    harness: Harness, widget
) -> None:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=FULL_WIDTH, password=PASSWORD)
    assert page.state == "code", page.message_ids
    await harness.deliver()
    [code] = harness.codes_for("jane@example.com")
    assert (await w.code(code)).state == "done"
    assert await addresses(harness) == ["jane@example.com"]

    # The plain spelling is the same account: registering it again makes no second one.
    again = widget("partner-1")
    await again.open()
    assert (await again.post(email="Jane@Example.com", password=PASSWORD)).state == "code"
    assert await addresses(harness) == ["jane@example.com"]
    async with harness.web.services.db.read() as session:
        assert len(list((await session.execute(select(User))).scalars())) == 1

    for typed in (FULL_WIDTH, "jane@example.com", "JANE@EXAMPLE.COM"):
        client = LoginClient(harness)
        page = await client.log_in(typed, PASSWORD)
        assert page.state == "done", (typed, page.message_ids)


async def test_a_mixed_script_look_alike_is_refused_at_registration(
    harness: Harness, widget
) -> None:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=LOOK_ALIKE, password=PASSWORD)
    assert page.status == 422
    assert page.field_errors("email") == ["identifier.confusable"]
    assert await addresses(harness) == []


async def test_a_look_alike_cannot_log_in_as_the_real_account(harness: Harness) -> None:
    ada = await make_user(harness, "jane@example.com", PASSWORD)
    page = await LoginClient(harness).log_in(LOOK_ALIKE, ada.password)
    assert page.state != "done" and "login.failed" in page.message_ids


async def test_recovery_reads_the_same_account(harness: Harness) -> None:
    await make_user(harness, "jane@example.com", PASSWORD)
    open_page = await harness.client.get(
        "/embed/partner-1/recover", params={"parent_origin": "http://127.0.0.1:8001"}
    )
    page = FlowPage(open_page, "partner-1")
    response = await harness.client.post(
        "/embed/partner-1/recover", data={**page.hidden, "identifier": FULL_WIDTH}
    )
    assert response.status_code in (200, 303)
    await harness.deliver()
    assert len(harness.codes_for("jane@example.com")) == 1


async def test_admin_create_and_search_use_the_same_reading(operator: AdminClient) -> None:
    made = await operator.post("/pools/partner-1/users", json={"email": FULL_WIDTH})
    assert made.status_code in (200, 201), made.text
    taken = await operator.post("/pools/partner-1/users", json={"email": "jane@example.com"})
    assert taken.status_code == 422
    look_alike = await operator.post("/pools/partner-1/users", json={"email": LOOK_ALIKE})
    assert look_alike.status_code == 422
    assert [(e["field"], e["id"]) for e in look_alike.json()["errors"]] == [
        ("email", "identifier.confusable")
    ]
    found = await operator.get("/pools/partner-1/users", params={"q": "ＪＡＮＥ"})  # noqa: RUF001
    assert found.json()["total"] == 1


async def test_an_added_account_address_uses_the_same_reading(harness: Harness) -> None:
    pool = await harness.web.services.pools.get("partner-1")
    assert read_address(pool, FULL_WIDTH) == ("email", "jane@example.com")
    try:
        read_address(pool, LOOK_ALIKE)
    except InvalidInput as refused:
        assert [m.id for m in refused.messages["address"]] == ["identifier.confusable"]
    else:
        raise AssertionError("a look-alike address was accepted")
