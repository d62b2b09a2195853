"""Registering must not become a way to flood someone's inbox."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Harness, rows
from widget_server.models import OutboxMessage

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"


async def outbox_to(h: Harness, address: str) -> list[OutboxMessage]:
    async with h.web.services.db.read() as session:
        found = await session.execute(
            select(OutboxMessage).where(OutboxMessage.recipient == address)
        )
        return list(found.scalars())


async def test_one_address_gets_at_most_the_hourly_limit_then_pages_look_the_same(
    harness, widget, clock
):
    limit = harness.settings.mail_per_address_per_hour
    pages = []
    for _ in range(limit + 3):
        w = widget("partner-1")
        await w.open()
        pages.append(await w.post(email="victim@example.com", password=GOOD_PASSWORD))
    # Every attempt gets the same answer, mailed or not: nothing to learn from the page.
    assert {(p.status, p.state) for p in pages} == {(200, "code")}
    assert len(await outbox_to(harness, "victim@example.com")) == limit

    clock.advance(3601)
    w = widget("partner-1")
    await w.open()
    await w.post(email="victim@example.com", password=GOOD_PASSWORD)
    assert len(await outbox_to(harness, "victim@example.com")) == limit + 1


async def test_resends_count_towards_the_limit(harness, widget, clock):
    limit = harness.settings.mail_per_address_per_hour
    w = widget("partner-1")
    await w.open()
    await w.post(email="resend@example.com", password=GOOD_PASSWORD)
    for _ in range(limit + 2):
        clock.advance(harness.settings.code_resend_cooldown_seconds + 1)
        page = await w.resend()
        assert page.state == "code"
    assert len(await outbox_to(harness, "resend@example.com")) == limit
    assert len(await rows(harness, OutboxMessage)) == limit
