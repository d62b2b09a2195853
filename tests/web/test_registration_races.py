"""Concurrent requests on one app (asyncio.gather on the shared client): the database's
unique index and conditional updates decide, never a read-then-write race.

Runs on SQLite and PostgreSQL (``database_url`` fixture)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import FlowPage, Harness, count, deliver_all, rows
from widget_server.auth import codes
from widget_server.errors import FlowStateError, WidgetError
from widget_server.flows import registration
from widget_server.models import Address, Code, Credential, Flow, User

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
HX = {"HX-Request": "true"}
PATH = "/embed/partner-1/register"


async def post(h: Harness, data: dict[str, Any], suffix: str = "") -> FlowPage:
    response = await h.client.post(PATH + suffix, data=data, headers=HX)
    return FlowPage(response, "partner-1")


async def open_flow(h: Harness) -> dict[str, str]:
    response = await h.client.get(PATH, headers=HX)
    page = FlowPage(response, "partner-1")
    assert page.status == 200
    return dict(page.hidden)


async def at_code_step(h: Harness, email: str = "race@example.com") -> tuple[dict[str, str], str]:
    hidden = await open_flow(h)
    page = await post(h, {**hidden, "email": email, "password": GOOD_PASSWORD})
    assert (page.status, page.state) == (200, "code")
    await deliver_all(h)
    [code] = h.codes_for(email)
    return page.hidden, code


async def test_fifty_parallel_registrations_of_one_address_make_one_user(harness):
    address = "same@example.com"
    flows = await asyncio.gather(*(open_flow(harness) for _ in range(50)))
    assert len({f["flow_id"] for f in flows}) == 50
    pages = await asyncio.gather(
        *(post(harness, {**f, "email": address, "password": GOOD_PASSWORD}) for f in flows)
    )
    assert {(p.status, p.state) for p in pages} == {(200, "code")}
    assert len({tuple(sorted(p.message_ids)) for p in pages}) == 1

    [user] = await rows(harness, User)
    [stored] = await rows(harness, Address)
    assert (stored.user_id, stored.value) == (user.id, address)
    assert await count(harness, Credential) == 1
    assert await count(harness, Flow) == 50
    assert await count(harness, Code) == 50

    await deliver_all(harness)
    sent = [e for e in harness.sender.sent if e.recipient == address]
    # One code (the winner's, always first) and notices up to the per-address hourly
    # limit, exactly, even under this concurrency.
    limit = harness.settings.mail_per_address_per_hour
    assert len(sent) == limit
    assert len(harness.codes_for(address)) == 1
    assert harness.codes_for(address) == [sent[0].subject.split()[0]]
    notices = [e for e in sent if "tried to sign up" in e.subject]
    assert len(notices) == limit - 1


async def test_double_submit_of_the_completing_post_makes_one_user(harness):
    hidden = await open_flow(harness)
    body = {**hidden, "email": "double@example.com", "password": GOOD_PASSWORD}
    pages = await asyncio.gather(post(harness, body), post(harness, body))
    assert sorted(p.status for p in pages) == [200, 409]
    assert {p.state for p in pages} == {"code"}
    assert await count(harness, User) == 1
    assert await count(harness, Code) == 1
    await deliver_all(harness)
    assert len(harness.sender.sent) == 1


async def test_double_submit_of_a_middle_step_stores_one_of_them(harness, widget):
    w = widget("business-1")
    await w.open()
    await w.post(email="jane@example.com", password=GOOD_PASSWORD)
    base = {**w.page.hidden, "last_name": "Doe", "date_of_birth": "1990-02-03"}
    responses = await asyncio.gather(
        harness.client.post(w.path, data={**base, "first_name": "Ann"}, headers=HX),
        harness.client.post(w.path, data={**base, "first_name": "Bea"}, headers=HX),
    )
    # One wins; the other is refused (409 by design; the exact answer for a late replay is
    # pinned in test_registration_errors.test_replayed_step_post_is_409).
    statuses = sorted(r.status_code for r in responses)
    assert statuses[0] == 200 and statuses[1] in (409, 422)
    async with harness.web.services.db.read() as session:
        flow = await session.get(Flow, w.page.flow_id)
    assert flow is not None and flow.step == "company"
    expected = "Ann" if responses[0].status_code == 200 else "Bea"
    assert flow.data["first_name"] == expected


async def test_ten_parallel_right_codes_activate_once(harness):
    hidden, code = await at_code_step(harness)
    pages = await asyncio.gather(
        *(post(harness, {**hidden, "code": code}, "/code") for _ in range(10))
    )
    done = [p for p in pages if (p.status, p.state) == (200, "done")]
    assert len(done) == 1
    assert all(p.status >= 400 for p in pages if p not in done)
    [user] = await rows(harness, User)
    assert user.status == "active" and user.activated_at is not None
    [address] = await rows(harness, Address)
    assert address.status == "verified"
    [stored] = await rows(harness, Code)
    assert stored.used_at is not None and stored.attempts == 0


async def test_a_right_code_that_lost_the_race_is_told_completed(harness):
    """Deterministic form of the race above: request B loaded the flow (state ``code``)
    before request A activated it, and checks its code afterwards."""
    hidden, code = await at_code_step(harness)
    services = harness.web.services
    pool = await services.pools.get("partner-1")
    stale = await registration.load(services, pool, hidden["flow_id"], hidden["csrf_token"])
    assert stale.state == "code"
    page = await post(harness, {**hidden, "code": code}, "/code")
    assert page.state == "done"
    outcome: WidgetError | None = None
    try:
        await registration.verify_code(services, pool, stale, code)
    except WidgetError as exc:
        outcome = exc
    assert isinstance(outcome, FlowStateError), outcome
    assert outcome.message_id == "flow.completed"


async def test_parallel_wrong_guesses_cannot_exceed_max_attempts(harness):
    hidden, code = await at_code_step(harness)
    wrong = "000000" if code != "000000" else "111111"
    pages = await asyncio.gather(
        *(post(harness, {**hidden, "code": wrong}, "/code") for _ in range(20))
    )
    outcomes = sorted((p.status, tuple(p.field_errors("code"))) for p in pages)
    assert outcomes == sorted([(422, ("code.invalid",))] * 4 + [(429, ("code.exhausted",))] * 16)
    [stored] = await rows(harness, Code)
    assert stored.attempts == 5
    page = await post(harness, {**hidden, "code": code}, "/code")
    assert (page.status, page.field_errors("code")) == (429, ["code.exhausted"])
    [user] = await rows(harness, User)
    assert user.status == "new"


async def test_parallel_resends_issue_one_new_code(harness, clock, request, monkeypatch):
    hidden, _ = await at_code_step(harness)
    clock.advance(harness.settings.code_resend_cooldown_seconds + 1)
    # Widen the window between reading the current code and writing the new one, so the
    # requests overlap on every run (without it they overlap on most runs only).
    real_current = codes.current

    async def slow_current(session: Any, purpose: str, flow_id: str) -> Any:
        found = await real_current(session, purpose, flow_id)
        await asyncio.sleep(0.05)
        return found

    monkeypatch.setattr(codes, "current", slow_current)
    pages = await asyncio.gather(*(post(harness, hidden, "/resend") for _ in range(5)))
    monkeypatch.undo()
    assert sorted(p.status for p in pages) == [200] + [429] * 4
    await deliver_all(harness)
    assert len(harness.codes_for("race@example.com")) == 2
    live = [c for c in await rows(harness, Code) if c.used_at is None]
    assert len(live) == 1
