"""The outbox: an SMTP outage delays mail but loses none, a message is sent exactly once,
a message that never goes through ends ``failed``, and a rolled-back registration leaves
no message behind.

Time is the harness's ManualClock; the background worker is stopped so each test drives
delivery itself. Runs on SQLite and PostgreSQL (``database_url`` fixture)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text

from tests.conftest import Harness, count, rows
from widget_server.mail.outbox import MAX_ATTEMPTS, backoff, has_room, insert_or_withhold
from widget_server.mail.senders import Envelope
from widget_server.models import Address, Code, Credential, Flow, OutboxMessage, User

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"


async def outbox_rows(h: Harness) -> list[OutboxMessage]:
    async with h.web.services.db.read() as session:
        result = await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(result.scalars())


async def register(widget: Any, email: str) -> Any:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=email, password=GOOD_PASSWORD)
    assert (page.status, page.state) == (200, "code")
    return w


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(50) == timedelta(hours=1)
    assert all(backoff(n) <= backoff(n + 1) for n in range(1, 30))


async def test_an_outage_delays_but_loses_nothing(harness, widget, clock):
    w = await register(widget, "outage@example.com")
    harness.sender.fail_next = 3

    for attempt in (1, 2, 3):
        assert await harness.outbox.deliver_due() == 1
        [row] = await outbox_rows(harness)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.last_error
        assert row.next_attempt_at == clock.now() + backoff(attempt)
        assert harness.sender.sent == []
        # Not due yet: nothing is tried before the backoff has passed.
        assert await harness.outbox.deliver_due() == 0
        clock.advance(backoff(attempt).total_seconds() - 1)
        assert await harness.outbox.deliver_due() == 0
        clock.advance(1)

    assert await harness.outbox.deliver_due() == 1
    [row] = await outbox_rows(harness)
    assert (row.status, row.attempts, row.last_error) == ("sent", 4, None)
    assert row.sent_at == clock.now()
    [envelope] = harness.sender.sent
    assert envelope.recipient == "outage@example.com"

    # The delayed code still works (35 s of a 10-minute lifetime were spent).
    [code] = harness.codes_for("outage@example.com")
    page = await w.code(code)
    assert (page.status, page.state) == (200, "done")

    # Sent means done: later rounds never send it again.
    for _ in range(3):
        clock.advance(3600)
        assert await harness.outbox.deliver_due() == 0
    assert len(harness.sender.sent) == 1


async def test_a_message_that_never_goes_through_ends_failed(harness, widget, clock):
    await register(widget, "blackhole@example.com")
    harness.sender.fail_next = 10_000
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert await harness.outbox.deliver_due() == 1, attempt
        [row] = await outbox_rows(harness)
        assert row.attempts == attempt
        expected = "failed" if attempt == MAX_ATTEMPTS else "pending"
        assert row.status == expected
        clock.advance(3600)
    assert row.last_error
    # Failed for good: never tried again, even much later.
    clock.advance(7 * 24 * 3600)
    assert await harness.outbox.deliver_due() == 0
    [row] = await outbox_rows(harness)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert harness.sender.sent == []


async def test_one_failing_message_does_not_hold_back_the_others(harness, widget):
    for n in range(3):
        await register(widget, f"m{n}@example.com")
    harness.sender.fail_next = 1  # the first message of the round fails
    assert await harness.outbox.deliver_due() == 3
    statuses = [(r.recipient, r.status) for r in await outbox_rows(harness)]
    assert sorted(s for _, s in statuses) == ["pending", "sent", "sent"]
    assert len(harness.sender.sent) == 2


async def test_parallel_delivery_rounds_send_each_message_once(harness, widget):
    for n in range(5):
        await register(widget, f"p{n}@example.com")
    claimed = await asyncio.gather(*(harness.outbox.deliver_due() for _ in range(4)))
    assert sum(claimed) == 5
    assert sorted(e.recipient for e in harness.sender.sent) == [
        f"p{n}@example.com" for n in range(5)
    ]
    assert {r.status for r in await outbox_rows(harness)} == {"sent"}


async def test_a_large_backlog_is_drained(harness, widget):
    for n in range(60):
        await register(widget, f"b{n}@example.com")
    rounds = 0
    while await harness.outbox.deliver_due():
        rounds += 1
        assert rounds < 10
    assert len(harness.sender.sent) == 60
    assert len({e.recipient for e in harness.sender.sent}) == 60


async def _fail_inserts_into(h: Harness, table: str) -> None:
    """A trigger that makes every insert into ``table`` fail, inside the inserting
    transaction: what a crash or a constraint error mid-registration looks like."""
    async with h.web.services.db.engine.begin() as conn:
        if h.web.services.db.is_sqlite:
            await conn.execute(
                text(
                    f"CREATE TRIGGER fail_{table} AFTER INSERT ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
                )
            )
        else:
            await conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION injected_failure() RETURNS trigger "
                    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$"
                )
            )
            await conn.execute(
                text(
                    f"CREATE TRIGGER fail_{table} AFTER INSERT ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION injected_failure()"
                )
            )


@pytest.mark.parametrize("table", ["users", "outbox"])
async def test_a_rolled_back_registration_leaves_no_message(harness, widget, table):
    await _fail_inserts_into(harness, table)
    w = widget("partner-1")
    await w.open()
    response = await harness.client.post(
        w.path, data={**w.page.hidden, "email": "rollback@example.com", "password": GOOD_PASSWORD}
    )
    assert response.status_code == 500
    for model in (OutboxMessage, User, Address, Credential, Code, Flow):
        assert await count(harness, model) == 0, model.__tablename__
    assert await harness.outbox.deliver_due() == 0
    assert harness.sender.sent == []


async def test_delivered_mail_keeps_no_code_in_the_database(harness, widget):
    w = widget("partner-1")
    await w.open()
    await w.post(email="scrub@example.com", password=GOOD_PASSWORD)
    [pending] = await rows(harness, OutboxMessage)
    assert pending.status == "pending"
    await harness.deliver()
    [code] = harness.codes_for("scrub@example.com")
    [sent] = await rows(harness, OutboxMessage)
    assert sent.status == "sent"
    assert code not in sent.subject + sent.body_text + (sent.body_html or "")
    assert sent.recipient == "scrub@example.com"  # kept for the hourly limit


async def test_purge_removes_old_finished_mail_and_long_expired_flows_only(harness, widget, clock):
    w = widget("partner-1")
    await w.open()
    await w.post(email="old@example.com", password=GOOD_PASSWORD)
    await harness.deliver()
    clock.advance(8 * 24 * 3600)  # past KEEP_FINISHED and past the flow's expiry + 1 day
    fresh = widget("partner-1")
    await fresh.open()
    await fresh.post(email="new@example.com", password=GOOD_PASSWORD)  # pending, recent
    removed = await harness.outbox.purge()
    assert removed == 2  # the old sent message and the old flow (its code with it)
    [left] = await rows(harness, OutboxMessage)
    assert (left.recipient, left.status) == ("new@example.com", "pending")
    assert [f.id for f in await rows(harness, Flow)] == [fresh.page.flow_id]
    assert {c.flow_id for c in await rows(harness, Code)} == {fresh.page.flow_id}
    assert len(await rows(harness, User)) == 2  # accounts are not the purge's business


def _envelope(recipient: str) -> Envelope:
    return Envelope(recipient=recipient, subject="s", body_text="b", body_html=None)


async def _a_write_first(session: Any) -> None:
    """Any write, so the driver has opened the transaction (the flows table is empty)."""
    await session.execute(delete(Flow).where(Flow.id == "none"))


async def test_insert_or_withhold_keeps_the_row_or_leaves_nothing(harness):
    services = harness.web.services
    async with services.db.write() as session:
        await _a_write_first(session)
        assert await has_room(session, harness.clock, "kept@example.com", 5)
        await insert_or_withhold(
            session, harness.clock, _envelope("kept@example.com"), "email", keep=True
        )
        await insert_or_withhold(
            session, harness.clock, _envelope("withheld@example.com"), "email", keep=False
        )
    assert [m.recipient for m in await outbox_rows(harness)] == ["kept@example.com"]


async def test_has_room_counts_the_last_hour_only(harness, clock):
    services = harness.web.services
    for _ in range(2):
        async with services.db.write() as session:
            await _a_write_first(session)
            await insert_or_withhold(
                session, harness.clock, _envelope("a@example.com"), "email", keep=True
            )
    async with services.db.write() as session:
        assert not await has_room(session, harness.clock, "a@example.com", 2)
        assert await has_room(session, harness.clock, "a@example.com", 3)
        assert await has_room(session, harness.clock, "b@example.com", 1)
    clock.advance(3601)
    async with services.db.write() as session:
        assert await has_room(session, harness.clock, "a@example.com", 1)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_insert_or_withhold_refuses_to_open_the_transaction_itself(harness):
    """SQLite: a savepoint before the transaction's first write would begin a transaction
    of its own, and releasing it would commit, whatever the rest of the transaction
    then does. Refused, and nothing is written."""
    with pytest.raises(RuntimeError, match="first write"):
        async with harness.web.services.db.write() as session:
            await insert_or_withhold(
                session, harness.clock, _envelope("early@example.com"), "email", keep=True
            )
    assert await outbox_rows(harness) == []
