"""A schema stored before patterns ran with RE2 may hold one RE2 refuses (a look-ahead):
its field then refuses every value. The operator is told, by the API, by the portal and
by a warning when the server starts; a schema without such patterns says nothing.

Runs on SQLite and PostgreSQL (``harness``)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from tests.admin.keys import AdminClient
from tests.conftest import Harness
from tests.web.portal_client import seed_admins, signed_in
from widget_server.admin.schemas import warn_unrunnable
from widget_server.models import IdentitySchema, Pool
from widget_server.seed import DEMO_TENANT

OLD = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "x-identifier": True},
        # Stored by an older release, before look-around was refused.
        "member_code": {"type": "string", "pattern": "^(?=[A-Z])[A-Z0-9]{4}$"},
    },
    "required": ["email", "member_code"],
}


async def _store_old(h: Harness) -> None:
    """Written straight to the table, as the older release did: today's API refuses it."""
    async with h.web.services.db.write() as session:
        session.add(
            IdentitySchema(
                id="old-club",
                tenant_id=DEMO_TENANT,
                name="Old club",
                kind="payload",
                body=OLD,
                builtin=False,
                created_at=h.clock.now(),
            )
        )
        await session.execute(
            update(Pool)
            .where(Pool.id == "partner-2")
            .values(payload_schema_id="old-club", version=Pool.version + 1)
        )
    h.web.services.pools.forget("partner-2")


async def test_the_api_names_each_unrunnable_pattern(harness: Harness, operator: AdminClient):
    await _store_old(harness)
    schema = (await operator.get("/schemas/old-club")).json()
    assert schema["problems"] == ["schema.unsupported_pattern at #/properties/member_code/pattern"]
    listed = {s["id"]: s["problems"] for s in (await operator.get("/schemas")).json()}
    assert listed["old-club"] == schema["problems"]
    assert listed["consumer-basic"] == []


async def test_the_portal_shows_it_on_the_list_and_the_schema(harness: Harness) -> None:
    await seed_admins(harness)
    await _store_old(harness)
    portal = await signed_in(harness)
    page = await portal.get("/admin/schemas")
    row = page.text.split('data-schema="old-club"')[1].split("</tr>")[0]
    assert 'data-message-id="schema.unrunnable"' in row
    fine = page.text.split('data-schema="consumer-basic"')[1].split("</tr>")[0]
    assert "schema.unrunnable" not in fine
    detail = await portal.get("/admin/schemas/old-club")
    assert 'role="alert" data-message-id="schema.unrunnable"' in detail.text
    assert "#/properties/member_code/pattern" in detail.text
    assert "schema.unrunnable" not in (await portal.get("/admin/schemas/consumer-basic")).text


async def test_a_warning_names_it_when_the_server_starts(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness.web.services.db.read() as session:
        assert await warn_unrunnable(session) == 0
    await _store_old(harness)
    with caplog.at_level(logging.WARNING, logger="widget_server.admin.schemas"):
        async with harness.web.services.db.read() as session:
            assert await warn_unrunnable(session) == 1
    [record] = [r for r in caplog.records if r.name == "widget_server.admin.schemas"]
    assert (
        "old-club" in record.getMessage()
        and "#/properties/member_code/pattern" in record.getMessage()
    )


async def test_its_field_fails_closed(harness: Harness, widget) -> None:  # type: ignore[no-untyped-def]
    """Until it is fixed the field refuses every value: nothing runs a pattern RE2 has
    refused, and nothing crashes."""
    await _store_old(harness)
    form = widget("partner-2")
    page = await form.open()
    assert page.status == 200
    page = await form.post(
        email="new@example.com", password="Blue-Harbour-Kettle-42", member_code="AB12"
    )
    assert page.status == 422, page.text[:300]
    assert page.field_errors("member_code") == ["form.pattern"]
    assert page.field_errors("email") == []
