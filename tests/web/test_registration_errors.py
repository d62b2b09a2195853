"""Bad input on every step of registration: each error has its status and message id, the
user can go on from the page shown, and nothing already stored is lost or overwritten.

Runs on SQLite and PostgreSQL (``database_url`` fixture)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import FlowPage, Harness, count
from widget_server.flows.registration import csrf_token
from widget_server.models import Address, Code, Credential, Flow, OutboxMessage, User

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
HX = {"HX-Request": "true"}


# --- helpers -------------------------------------------------------------------------------


async def users(h: Harness) -> list[User]:
    async with h.web.services.db.read() as session:
        return list((await session.execute(select(User))).scalars())


async def flow_row(h: Harness, flow_id: str) -> Flow | None:
    async with h.web.services.db.read() as session:
        return await session.get(Flow, flow_id)


async def snapshot(h: Harness, flow_id: str) -> dict[str, Any]:
    """What is stored for a flow and everything hanging off it."""
    flow = await flow_row(h, flow_id)
    assert flow is not None
    async with h.web.services.db.read() as session:
        codes = list((await session.execute(select(Code).where(Code.flow_id == flow_id))).scalars())
        found = list((await session.execute(select(User))).scalars())
        addresses = list((await session.execute(select(Address))).scalars())
        credentials = list((await session.execute(select(Credential))).scalars())
    return {
        "flow": (flow.state, flow.step, flow.data, flow.password_hash, flow.user_id, flow.address),
        "codes": sorted((c.id, c.code_hash, c.used_at) for c in codes),
        "users": sorted((u.id, u.status, repr(u.payload)) for u in found),
        "addresses": sorted((a.value, a.status) for a in addresses),
        "credentials": sorted((c.user_id, c.secret_hash) for c in credentials),
    }


async def code_row(h: Harness, flow_id: str) -> Code:
    async with h.web.services.db.read() as session:
        return (
            await session.execute(
                select(Code).where(Code.flow_id == flow_id).order_by(Code.sent_at.desc()).limit(1)
            )
        ).scalar_one()


async def raw_post(h: Harness, pool: str, data: Any, suffix: str = "") -> FlowPage:
    response = await h.client.post(f"/embed/{pool}/register{suffix}", data=data, headers=HX)
    return FlowPage(response, pool)


async def at_code_step(h: Harness, widget: Any, email: str = "new@example.com") -> Any:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=email, password=GOOD_PASSWORD)
    assert (page.status, page.state) == (200, "code")
    await h.deliver()
    return w


async def business_at(widget: Any, step: str) -> Any:
    """A business-1 flow, saved, standing on ``step``."""
    w = widget("business-1")
    await w.open()
    page = await w.post(email="jane@example.com", password=GOOD_PASSWORD)
    assert page.step == "personal"
    if step == "personal":
        return w
    page = await w.post(first_name="Jane", last_name="Doe", date_of_birth="1990-02-03")
    assert page.step == "company"
    if step == "company":
        return w
    page = await w.post(company="ACME Corp", job_title="CTO", country="DE")
    assert page.step == "confirm"
    return w


# --- field validation ----------------------------------------------------------------------


async def test_email_errors_are_422_on_the_field_with_the_value_kept(harness, widget):
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="not-an-email", password=GOOD_PASSWORD)
    assert (page.status, page.state, page.step) == (422, "form", "account")
    assert page.field_errors("email") == ["form.email_invalid"]
    assert page.field_errors("password") == []
    assert 'value="not-an-email"' in page.text

    # Every failure at once: the email and the password are both reported.
    page = await w.post(email="nope", password="short")
    assert page.status == 422
    assert page.field_errors("email") == ["form.email_invalid"]
    assert "password.too_short" in page.field_errors("password")

    page = await w.post(email="a" * 10_000 + "@example.com", password=GOOD_PASSWORD)
    assert page.status == 422
    assert page.field_errors("email") == ["form.too_long"]

    # The flow was never saved and nothing was created; the page is still usable.
    assert await count(harness, Flow) == 0
    assert await count(harness, User) == 0
    page = await w.post(email="fixed@example.com", password=GOOD_PASSWORD)
    assert (page.status, page.state) == (200, "code")


async def test_schema_violations_on_later_steps_keep_what_is_stored(harness, widget):
    w = await business_at(widget, "personal")
    before = await snapshot(harness, w.page.flow_id)
    page = await w.post(first_name="", last_name="Doe", date_of_birth="1990-02-30")
    assert (page.status, page.step) == (422, "personal")
    assert page.field_errors("first_name") == ["form.required"]
    assert page.field_errors("date_of_birth") == ["form.date_invalid"]
    assert page.field_errors("last_name") == []
    assert 'value="1990-02-30"' in page.text and 'value="Doe"' in page.text
    assert await snapshot(harness, w.page.flow_id) == before

    page = await w.post(first_name="x" * 10_000, last_name="Doe", date_of_birth="not a date")
    assert page.field_errors("first_name") == ["form.too_long"]
    assert page.field_errors("date_of_birth") == ["form.date_invalid"]
    # "company" belongs to the next step; sent early, it is refused and not stored.
    page = await w.post(
        first_name="Jane", last_name="Doe", date_of_birth="1990-02-03", company="Sneaky Ltd"
    )
    assert (page.status, page.step) == (422, "personal")
    assert await snapshot(harness, w.page.flow_id) == before

    page = await w.post(first_name="Jane", last_name="Doe", date_of_birth="1990-02-03")
    assert page.step == "company"
    before = await snapshot(harness, w.page.flow_id)
    page = await w.post(company="ACME Corp", job_title="CTO", country="XX")
    assert (page.status, page.step) == (422, "company")
    assert page.field_errors("country") == ["form.enum"]
    assert await snapshot(harness, w.page.flow_id) == before

    page = await w.post(company="ACME Corp", job_title="CTO", country="DE")
    assert page.step == "confirm"
    before = await snapshot(harness, w.page.flow_id)
    page = await w.post(newsletter="on")
    assert (page.status, page.step) == (422, "confirm")
    assert page.field_errors("terms") == ["form.must_accept"]
    assert await snapshot(harness, w.page.flow_id) == before
    assert await count(harness, User) == 0
    assert await count(harness, OutboxMessage) == 0


async def test_unknown_and_repeated_fields_are_refused_and_create_nothing(harness, widget):
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="a@example.com", password=GOOD_PASSWORD, is_admin="1")
    assert (page.status, page.state, page.step) == (422, "form", "account")

    body = {**w.page.hidden, "email": ["a@example.com", "b@example.com"], "password": GOOD_PASSWORD}
    page = await w.post(data=body)
    assert (page.status, page.step) == (422, "account")
    assert page.field_errors("email") == ["form.duplicate_field"]

    # A control field twice cannot be read at all.
    body = {**w.page.hidden, "email": "a@example.com", "password": [GOOD_PASSWORD, "other-pass-1"]}
    page = await w.post(data=body)
    assert page.status == 400
    assert "flow.malformed" in page.message_ids

    assert await count(harness, User) == 0
    assert await count(harness, Flow) == 0


async def test_unknown_fields_are_named_in_the_page(harness, widget):
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="a@example.com", password=GOOD_PASSWORD, is_admin="1")
    assert page.status == 422
    assert "form.unknown_field" in page.message_ids
    w = widget("business-1")
    await w.open()
    page = await w.post(email="jane@example.com", password=GOOD_PASSWORD, first_name="Jane")
    assert page.status == 422
    assert "form.unknown_field" in page.message_ids


async def test_long_passwords_are_refused_and_never_hashed(harness, widget, monkeypatch):
    hashed: list[int] = []
    real_hash = harness.web.services.hashing.hash

    async def spy(password: str) -> str:
        hashed.append(len(password))
        return await real_hash(password)

    monkeypatch.setattr(harness.web.services.hashing, "hash", spy)
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="long@example.com", password="p" * 500)
    assert page.status == 422
    assert page.field_errors("password") == ["password.too_long"]

    started = time.perf_counter()
    page = await w.post(email="long@example.com", password="p" * 10_000)
    assert time.perf_counter() - started < 1.0
    # Refused on the field, never hashed, nothing stored.
    assert page.status == 422
    assert page.state == "form"
    assert hashed == []
    assert await count(harness, Credential) == 0
    assert await count(harness, User) == 0
    assert await count(harness, Flow) == 0


async def test_ten_thousand_character_password_is_a_field_error(harness, widget):
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="bad address", password="p" * 10_000)
    assert page.status == 422
    assert page.field_errors("password") == ["password.too_long"]
    assert page.field_errors("email") == ["form.email_invalid"]


# --- the flow envelope: CSRF, ids, tickets, expiry -------------------------------------------


async def test_missing_csrf_token_is_400_and_creates_nothing(harness, widget):
    w = widget("partner-1")
    await w.open()
    body = {k: v for k, v in w.page.hidden.items() if k != "csrf_token"}
    page = await w.post(data={**body, "email": "a@example.com", "password": GOOD_PASSWORD})
    assert page.status == 400
    assert (page.state, page.step) == ("form", "account")
    assert await count(harness, User) == 0
    assert await count(harness, Flow) == 0


async def test_missing_csrf_token_says_flow_malformed(harness, widget):
    w = widget("partner-1")
    await w.open()
    body = {k: v for k, v in w.page.hidden.items() if k != "csrf_token"}
    page = await w.post(data={**body, "email": "a@example.com", "password": GOOD_PASSWORD})
    assert page.status == 400
    assert "flow.malformed" in page.message_ids


async def test_forged_csrf_token_is_403_with_a_fresh_flow(harness, widget):
    w = widget("partner-1")
    await w.open()
    old = w.page.flow_id
    body = {
        **w.page.hidden,
        "csrf_token": "A" * 43,
        "email": "a@example.com",
        "password": GOOD_PASSWORD,
    }
    page = await w.post(data=body)
    assert page.status == 403
    assert "flow.csrf" in page.message_ids
    assert (page.state, page.step) == ("form", "account")
    assert page.flow_id != old
    assert await count(harness, User) == 0
    # The fresh flow works.
    page = await w.post(email="a@example.com", password=GOOD_PASSWORD)
    assert (page.status, page.state) == (200, "code")


async def test_csrf_token_of_another_flow_is_403(harness, widget):
    a, b = widget("business-1"), widget("business-1")
    await a.open()
    await a.post(email="a@example.com", password=GOOD_PASSWORD)
    await b.open()
    await b.post(email="b@example.com", password=GOOD_PASSWORD)
    before = await snapshot(harness, a.page.flow_id)
    body = {
        "flow_id": a.page.flow_id,
        "csrf_token": b.page.hidden["csrf_token"],
        "first_name": "Mallory",
        "last_name": "X",
        "date_of_birth": "1990-01-01",
    }
    page = await raw_post(harness, "business-1", body)
    assert page.status == 403
    assert "flow.csrf" in page.message_ids
    assert await snapshot(harness, a.page.flow_id) == before


async def test_unknown_flow_id_is_404_with_a_fresh_flow(harness):
    flow_id = "x" * 32
    body = {
        "flow_id": flow_id,
        "csrf_token": csrf_token(harness.web.services, flow_id),
        "email": "a@example.com",
        "password": GOOD_PASSWORD,
    }
    page = await raw_post(harness, "partner-1", body)
    assert page.status == 404
    assert "flow.not_found" in page.message_ids
    assert page.state == "form" and page.flow_id != flow_id
    assert await count(harness, User) == 0

    response = await harness.client.get("/embed/partner-1/register", params={"flow": "nope"})
    page = FlowPage(response, "partner-1")
    assert page.status == 404
    assert "flow.not_found" in page.message_ids
    assert page.state == "form"


async def test_expired_flows_are_410_and_stored_data_stays(harness, widget, clock):
    saved = await business_at(widget, "personal")
    before = await snapshot(harness, saved.page.flow_id)
    old = saved.page.flow_id
    unsaved = widget("partner-1")
    await unsaved.open()
    clock.advance(harness.settings.flow_ttl_seconds + 1)

    page = await saved.post(first_name="Jane", last_name="Doe", date_of_birth="1990-02-03")
    assert page.status == 410
    assert "flow.expired" in page.message_ids
    assert (page.state, page.step) == ("form", "account")
    assert page.flow_id != old
    assert await snapshot(harness, old) == before

    response = await harness.client.get(saved.path, params={"flow": old})
    page = FlowPage(response, "business-1")
    assert page.status == 410
    assert "flow.expired" in page.message_ids

    page = await unsaved.post(email="a@example.com", password=GOOD_PASSWORD)
    assert page.status == 410
    assert "flow.expired" in page.message_ids
    assert await count(harness, User) == 0
    assert await count(harness, Flow) == 1


def _tamper_payload(ticket: str) -> str:
    payload, _, signature = ticket.partition(".")
    swapped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
    return f"{swapped}.{signature}"


def _tamper_signature(ticket: str) -> str:
    payload, _, signature = ticket.partition(".")
    return f"{payload}.{'0' * len(signature)}"


async def test_forged_or_borrowed_tickets_are_404(harness, widget):
    for forge in (_tamper_payload, _tamper_signature, lambda t: "garbage", lambda t: "."):
        w = widget("partner-1")
        await w.open()
        body = {
            **w.page.hidden,
            "flow_ticket": forge(w.page.hidden["flow_ticket"]),
            "email": "a@example.com",
            "password": GOOD_PASSWORD,
        }
        page = await w.post(data=body)
        assert page.status == 404
        assert "flow.not_found" in page.message_ids

    # The ticket of another flow id.
    a, b = widget("partner-1"), widget("partner-1")
    await a.open()
    await b.open()
    body = {
        **a.page.hidden,
        "flow_ticket": b.page.hidden["flow_ticket"],
        "email": "a@example.com",
        "password": GOOD_PASSWORD,
    }
    page = await a.post(data=body)
    assert page.status == 404

    # A whole unsaved flow of business-1 posted to partner-1.
    w = widget("business-1")
    await w.open()
    body = {**w.page.hidden, "email": "a@example.com", "password": GOOD_PASSWORD}
    page = await raw_post(harness, "partner-1", body)
    assert page.status == 404
    assert "flow.not_found" in page.message_ids

    assert await count(harness, User) == 0
    assert await count(harness, Flow) == 0


async def test_saved_flow_of_another_pool_is_404(harness, widget):
    w = await business_at(widget, "personal")
    before = await snapshot(harness, w.page.flow_id)
    body = {**w.page.hidden, "email": "a@example.com", "password": GOOD_PASSWORD}
    page = await raw_post(harness, "partner-1", body)
    assert page.status == 404
    assert await snapshot(harness, w.page.flow_id) == before
    assert await count(harness, User) == 0


# --- codes ---------------------------------------------------------------------------------


async def test_malformed_and_wrong_codes(harness, widget):
    w = await at_code_step(harness, widget)
    [right] = harness.codes_for("new@example.com")
    # Not six digits: a format error, not an attempt.
    for bad in ("12a456", "abcdef", "12345", "1234567", "12 456", "-12345"):
        page = await w.code(bad)
        assert (page.status, page.state) == (422, "code"), bad
        assert page.field_errors("code") == ["code.format"], bad
    assert (await code_row(harness, w.page.flow_id)).attempts == 0

    wrong = "000000" if right != "000000" else "111111"
    for attempt in (1, 2, 3):
        page = await w.code(wrong)
        assert (page.status, page.state) == (422, "code")
        assert page.field_errors("code") == ["code.invalid"]
        row = await code_row(harness, w.page.flow_id)
        assert row.attempts == attempt
        assert row.max_attempts - row.attempts == 5 - attempt
    # Still alive: the right code works.
    page = await w.code(right)
    assert (page.status, page.state) == (200, "done")


async def test_five_wrong_codes_kill_the_code_even_for_the_right_one(harness, widget):
    w = await at_code_step(harness, widget)
    [right] = harness.codes_for("new@example.com")
    wrong = "000000" if right != "000000" else "111111"
    statuses = []
    for _ in range(5):
        page = await w.code(wrong)
        statuses.append((page.status, tuple(page.field_errors("code"))))
    assert statuses == [(422, ("code.invalid",))] * 4 + [(429, ("code.exhausted",))]
    page = await w.code(right)
    assert (page.status, page.state) == (429, "code")
    assert page.field_errors("code") == ["code.exhausted"]
    [user] = await users(harness)
    assert user.status == "new"
    assert (await code_row(harness, w.page.flow_id)).attempts == 5


async def test_code_after_ten_minutes_is_410(harness, widget, clock):
    w = await at_code_step(harness, widget)
    [right] = harness.codes_for("new@example.com")
    clock.advance(harness.settings.code_ttl_seconds + 1)
    page = await w.code(right)
    assert (page.status, page.state) == (410, "code")
    assert page.field_errors("code") == ["code.expired"]
    [user] = await users(harness)
    assert user.status == "new"


async def test_non_ascii_digits_are_a_format_error_not_an_attempt(harness, widget):
    w = await at_code_step(harness, widget)
    for bad in ("\u0661\u0662\u0663\u0664\u0665\u0666", "\u00b2" * 6):
        page = await w.code(bad)
        assert (page.status, page.state) == (422, "code"), bad
        assert page.field_errors("code") == ["code.format"], bad
    assert (await code_row(harness, w.page.flow_id)).attempts == 0


async def test_resend_waits_for_the_cooldown_then_replaces_the_code(harness, widget, clock):
    w = await at_code_step(harness, widget)
    [old] = harness.codes_for("new@example.com")
    before = await snapshot(harness, w.page.flow_id)
    clock.advance(20)
    page = await w.resend()
    assert (page.status, page.state) == (429, "code")
    assert "code.resend_cooldown" in page.message_ids
    retry_after = int(page.response.headers["retry-after"])
    assert 0 < retry_after <= 41
    assert await snapshot(harness, w.page.flow_id) == before
    await harness.deliver()
    assert harness.codes_for("new@example.com") == [old]

    clock.advance(retry_after)
    page = await w.resend()
    assert (page.status, page.state) == (200, "code")
    await harness.deliver()
    codes = harness.codes_for("new@example.com")
    assert len(codes) == 2 and codes[0] == old
    new = codes[1]
    if old != new:
        page = await w.code(old)
        assert page.status == 422
        assert page.field_errors("code") == ["code.invalid"]
    page = await w.code(new)
    assert (page.status, page.state) == (200, "done")


async def test_code_before_the_form_is_finished_is_409(harness, widget):
    w = await business_at(widget, "personal")
    before = await snapshot(harness, w.page.flow_id)
    page = await w.code("123456")
    assert page.status == 409
    assert "flow.wrong_step" in page.message_ids
    assert page.step == "personal"
    assert await snapshot(harness, w.page.flow_id) == before


# --- replays -------------------------------------------------------------------------------


async def completed_flow(harness, widget):
    """A partner-1 flow taken to ``done``; returns it with its first and code POST bodies."""
    w = widget("partner-1")
    await w.open()
    first_body = {**w.page.hidden, "email": "done@example.com", "password": GOOD_PASSWORD}
    await w.post(data=first_body)
    await harness.deliver()
    [code] = harness.codes_for("done@example.com")
    code_body = {**w.page.hidden, "code": code}
    page = await w.post("/code", data=code_body)
    assert (page.status, page.state) == (200, "done")
    return w, first_body, code_body


async def test_posts_replayed_after_completion_are_409_and_change_nothing(harness, widget):
    w, first_body, code_body = await completed_flow(harness, widget)
    before = await snapshot(harness, w.page.flow_id)
    outbox = await count(harness, OutboxMessage)

    for suffix, body in (("/code", code_body), ("/resend", w.page.hidden)):
        page = await w.post(suffix, data=body)
        assert page.status == 409, suffix
        assert "flow.completed" in page.message_ids, suffix
        assert page.state == "done", suffix
    # The very first POST (it carried the unsaved flow's ticket), replayed.
    page = await w.post(data=first_body)
    assert (page.status, page.state) == (409, "done")

    assert await snapshot(harness, w.page.flow_id) == before
    [user] = await users(harness)
    assert user.status == "active"
    assert await count(harness, OutboxMessage) == outbox


async def test_replayed_step_post_does_not_overwrite_stored_data(harness, widget):
    w = await business_at(widget, "personal")
    personal = {
        **w.page.hidden,
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": "1990-02-03",
    }
    page = await w.post(data=personal)
    assert page.step == "company"
    before = await snapshot(harness, w.page.flow_id)
    page = await w.post(data={**personal, "first_name": "Mallory"})
    assert page.status >= 400
    assert await snapshot(harness, w.page.flow_id) == before
    flow = await flow_row(harness, w.page.flow_id)
    assert flow is not None and flow.data["first_name"] == "Jane"


async def test_replayed_step_post_is_409(harness, widget):
    w = await business_at(widget, "personal")
    personal = {
        **w.page.hidden,
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": "1990-02-03",
    }
    await w.post(data=personal)
    page = await w.post(data={**personal, "first_name": "Mallory"})
    assert page.status == 409
    assert "flow.wrong_step" in page.message_ids
    assert page.step == "company"


async def test_replayed_first_post_of_a_saved_flow_does_not_restart_it(harness, widget):
    w = widget("business-1")
    await w.open()
    first = {**w.page.hidden, "email": "jane@example.com", "password": GOOD_PASSWORD}
    await w.post(data=first)
    await w.post(first_name="Jane", last_name="Doe", date_of_birth="1990-02-03")
    before = await snapshot(harness, w.page.flow_id)
    page = await w.post(data={**first, "email": "mallory@example.com"})
    assert page.status >= 400
    assert await snapshot(harness, w.page.flow_id) == before


async def test_replayed_first_post_after_completion_says_completed(harness, widget):
    w, first_body, _ = await completed_flow(harness, widget)
    page = await w.post(data=first_body)
    assert (page.status, page.state) == (409, "done")
    assert "flow.completed" in page.message_ids
