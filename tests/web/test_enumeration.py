"""Registering an address that already has an account looks, to the visitor, exactly like
registering a new one; only the owner's mailbox learns about it, and no code can succeed.

Runs on SQLite and PostgreSQL (``database_url`` fixture)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy import insert, text

from tests.conftest import FlowPage, Harness, deliver_all, rows
from widget_server.models import Address, Code, Credential, Flow, User

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
OTHER_PASSWORD = "Quiet-Lantern-Orchard-77"
EXISTING = "owner@example.com"
#: Headers that differ between any two responses: the length (an address of another
#: length), the date, and the request id (random per request, the same for both kinds).
IGNORED_HEADERS = {"content-length", "date", "x-request-id"}


async def register_and_activate(h: Harness, widget: Any, email: str) -> User:
    w = widget("partner-1")
    await w.open()
    await w.post(email=email, password=GOOD_PASSWORD)
    await deliver_all(h)
    [code] = h.codes_for(email)
    page = await w.code(code)
    assert page.state == "done"
    [user] = [u for u in await rows(h, User) if u.payload["email"] == email]
    return user


def comparable_headers(page: FlowPage) -> dict[str, str]:
    return {k: v for k, v in page.response.headers.items() if k not in IGNORED_HEADERS}


def masked(page: FlowPage, *addresses: str) -> str:
    """The page with flow-specific values and the typed address blanked out."""
    text = page.text
    for value in [*page.hidden.values(), *addresses]:
        text = text.replace(value, "…")
    return re.sub(r"[?&]flow=[^\"&]+", "", text)


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
async def test_existing_and_new_address_answer_the_same(harness, widget, htmx):
    owner = await register_and_activate(harness, widget, EXISTING)
    harness.sender.sent.clear()

    pages = []
    for email in (EXISTING, "newcomer@example.com"):
        w = widget("partner-1", htmx=htmx)
        await w.open()
        if htmx:
            pages.append(await w.post(email=email, password=OTHER_PASSWORD))
            continue
        # Without HTMX: the 303 itself, then the page it leads to.
        body = {**w.page.hidden, "email": email, "password": OTHER_PASSWORD}
        redirect = await harness.client.post(w.path, data=body)
        assert redirect.status_code == 303
        assert "set-cookie" not in redirect.headers
        pages.append(FlowPage(await harness.client.get(redirect.headers["location"]), "partner-1"))
    existing, new = pages

    assert (existing.status, existing.state) == (new.status, new.state) == (200, "code")
    assert sorted(existing.message_ids) == sorted(new.message_ids)
    assert comparable_headers(existing) == comparable_headers(new)
    assert "set-cookie" not in existing.response.headers
    assert "set-cookie" not in new.response.headers
    assert masked(existing, EXISTING) == masked(new, "newcomer@example.com")

    # The owner's account is untouched.
    [still] = [u for u in await rows(harness, User) if u.id == owner.id]
    assert (still.status, still.payload) == ("active", owner.payload)
    assert len(await rows(harness, Credential)) == 2  # owner + newcomer, nothing for the dup


async def test_the_owner_gets_a_notice_and_no_code(harness, widget):
    await register_and_activate(harness, widget, EXISTING)
    harness.sender.sent.clear()
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=EXISTING.upper(), password=OTHER_PASSWORD)
    assert page.state == "code"
    await deliver_all(harness)
    [notice] = harness.sender.sent
    assert notice.recipient.lower() == EXISTING
    assert "tried to sign up" in notice.subject
    # Six digits that are not a colour of the pool's theme (#111827) would be a code.
    text = notice.subject + notice.body_text + (notice.body_html or "")
    assert not re.search(r"(?<![#\w])\d{6}(?!\w)", text)
    assert harness.codes_for(EXISTING) == []


async def test_no_code_can_complete_a_duplicate_registration(harness, widget, monkeypatch):
    owner = await register_and_activate(harness, widget, EXISTING)
    [owner_credential] = await rows(harness, Credential)
    # Make the code of the duplicate flow known: even the "right" one must fail.
    monkeypatch.setattr("widget_server.secrets_.new_code", lambda: "424242")
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=EXISTING, password=OTHER_PASSWORD)
    assert page.state == "code"
    [dup_code] = [c for c in await rows(harness, Code) if c.flow_id == w.page.flow_id]
    assert dup_code.user_id is None

    for guess in ("424242", "000000", "999999", "123456"):
        page = await w.code(guess)
        assert (page.status, page.state) == (422, "code"), guess
        assert page.field_errors("code") == ["code.invalid"], guess

    [user] = await rows(harness, User)
    assert (user.id, user.status) == (owner.id, "active")
    [address] = await rows(harness, Address)
    assert (address.user_id, address.status) == (owner.id, "verified")
    credentials = await rows(harness, Credential)
    assert [(c.user_id, c.secret_hash) for c in credentials] == [
        (owner.id, owner_credential.secret_hash)
    ]


async def test_a_pending_owner_is_treated_the_same(harness, widget):
    """The address belongs to a user who never activated: still no second account, no code."""
    w = widget("partner-1")
    await w.open()
    await w.post(email=EXISTING, password=GOOD_PASSWORD)
    await deliver_all(harness)
    harness.sender.sent.clear()

    w2 = widget("partner-1")
    await w2.open()
    page = await w2.post(email=EXISTING, password=OTHER_PASSWORD)
    assert (page.status, page.state) == (200, "code")
    await deliver_all(harness)
    [notice] = harness.sender.sent
    assert "tried to sign up" in notice.subject
    [user] = await rows(harness, User)
    assert user.status == "new"


async def _account_rows(h: Harness) -> dict[str, int]:
    return {model.__name__: len(await rows(h, model)) for model in (User, Address, Credential)}


async def test_a_taken_address_keeps_none_of_the_rows_it_wrote(harness, widget):
    """A taken address writes the new account's rows as a new one would (the same work,
    for the same time), then rolls them back: nothing of them is left."""
    await register_and_activate(harness, widget, EXISTING)
    before = await _account_rows(harness)
    w = widget("partner-1")
    await w.open()
    assert (await w.post(email=EXISTING, password=OTHER_PASSWORD)).state == "code"
    assert await _account_rows(harness) == before
    assert all(not a.value.startswith("#") for a in await rows(harness, Address))
    [flow] = [f for f in await rows(harness, Flow) if f.id == w.page.flow_id]
    assert flow.user_id is None and flow.state == "code"
    assert [c.user_id for c in await rows(harness, Code) if c.flow_id == w.page.flow_id] == [None]


RACED = "raced@example.com"


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_an_address_taken_while_the_registration_completes_is_a_taken_one(harness, widget):
    """PostgreSQL: another transaction inserts the address after the completion looked it
    up and before it inserts it. The completion waits for that transaction, finds the
    address taken, and ends as for any taken address: the same page, no account, the
    owner's notice, no usable code."""
    db = harness.web.services.db
    now = harness.clock.now()
    owner = {"id": "owner-1", "pool_id": "partner-1", "status": "active"}
    async with db.engine.connect() as other:
        transaction = await other.begin()
        await other.execute(
            insert(User).values(
                **owner, payload={"email": RACED}, metadata_={}, created_at=now, updated_at=now
            )
        )
        await other.execute(
            insert(Address).values(
                id="address-1",
                user_id="owner-1",
                pool_id="partner-1",
                kind="email",
                value=RACED,
                status="verified",
                verified_at=now,
                created_at=now,
            )
        )
        w = widget("partner-1")
        await w.open()
        posting = asyncio.create_task(w.post(email=RACED, password=GOOD_PASSWORD))
        await _until_waiting_for_a_lock(db)
        await transaction.commit()
        page = await asyncio.wait_for(posting, 10)
    assert page.state == "code"
    assert [u.id for u in await rows(harness, User)] == ["owner-1"]
    assert [a.value for a in await rows(harness, Address)] == [RACED]
    assert await rows(harness, Credential) == []
    [flow] = [f for f in await rows(harness, Flow) if f.id == w.page.flow_id]
    assert flow.user_id is None
    assert [c.user_id for c in await rows(harness, Code) if c.flow_id == w.page.flow_id] == [None]
    harness.sender.sent.clear()
    await deliver_all(harness)
    [notice] = harness.sender.sent
    assert notice.recipient == RACED and "tried to sign up" in notice.subject
    assert harness.codes_for(RACED) == []


async def _until_waiting_for_a_lock(db: Any) -> None:
    """Until a statement of this database waits for a lock (at most 5 s)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(500):
        async with db.engine.connect() as connection:
            if (await connection.execute(waiting)).scalar_one():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the completion never waited for the other transaction")
