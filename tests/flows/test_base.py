"""The flow skeleton (``flows/base.py``) on a small inline kind: the transition table,
signed tickets (tampered, expired, another flow's, another pool's, another kind's) and
loading saved flows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import Harness
from widget_server.errors import CsrfMismatch, FlowExpired, FlowNotFound, FlowStateError
from widget_server.flows import tickets
from widget_server.flows.base import FlowKind, csrf_token, is_saved
from widget_server.flows.tickets import TicketFormat
from widget_server.models import Flow
from widget_server.pools import PoolView

ORIGIN = "https://shop.example"

# A door: opened and closed again, left for good through ``done``.
DOOR = FlowKind(
    "door",
    start="closed",
    transitions={
        ("closed", "open"): "open",
        ("open", "close"): "closed",
        ("open", "leave"): "done",
    },
    done_message="door.left",
    ticket=TicketFormat("door-ticket", ("pool", "origin", "issued", "app")),
)
# The same table and facts, another kind: its tickets are signed for another purpose.
GATE = FlowKind(
    "gate",
    start="closed",
    transitions=DOOR.transitions,
    done_message="gate.left",
    ticket=TicketFormat("gate-ticket", ("pool", "origin", "issued", "app")),
)


async def pool(h: Harness, pool_id: str = "partner-1") -> PoolView:
    return await h.web.services.pools.get(pool_id)


async def saved(h: Harness, kind: str, state: str, pool_id: str = "partner-1") -> Flow:
    services = h.web.services
    now = services.clock.now()
    flow = Flow(
        id=f"{kind}-{state}",
        kind=kind,
        pool_id=pool_id,
        state=state,
        step="",
        data={},
        parent_origin=None,
        oauth={},
        expires_at=now + timedelta(seconds=services.settings.flow_ttl_seconds),
        created_at=now,
        updated_at=now,
    )
    async with services.db.write() as session:
        session.add(flow)
    return flow


# --- transitions ---------------------------------------------------------------------------


def test_a_legal_move_gives_the_table_s_target() -> None:
    assert DOOR.transition("closed", "open") == "open"
    assert DOOR.transition("open", "close") == "closed"
    assert DOOR.transition("open", "leave") == "done"


def test_a_move_the_table_does_not_allow_is_refused_as_the_wrong_step() -> None:
    for state, action in (("closed", "close"), ("closed", "leave"), ("ajar", "open")):
        with pytest.raises(FlowStateError) as caught:
            DOOR.transition(state, action)  # type: ignore[arg-type]
        assert caught.value.message_id == "flow.wrong_step"


def test_any_move_of_a_finished_flow_is_refused_with_the_kind_s_done_message() -> None:
    for action in ("open", "close", "leave"):
        with pytest.raises(FlowStateError) as caught:
            DOOR.transition("done", action)  # type: ignore[arg-type]
        assert caught.value.message_id == "door.left"


# --- tickets -------------------------------------------------------------------------------


async def test_a_new_flow_is_unsaved_and_its_ticket_brings_back_the_same_flow(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    flow = DOOR.new(services, p, ORIGIN, "app-1")
    assert not is_saved(flow)
    assert (flow.kind, flow.state, flow.pool_id, flow.step) == ("door", "closed", p.id, "")
    ticket = DOOR.ticket_for(services, flow)
    assert ticket is not None

    loaded = await DOOR.load(services, p, flow.id, csrf_token(services, flow.id), ticket)
    assert not is_saved(loaded)
    assert (loaded.id, loaded.kind, loaded.state) == (flow.id, "door", "closed")
    assert (loaded.parent_origin, loaded.app_id) == (ORIGIN, "app-1")
    assert (loaded.created_at, loaded.expires_at) == (flow.created_at, flow.expires_at)


async def test_a_ticket_without_origin_or_app_brings_back_none_for_both(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    flow = DOOR.new(services, p, None)
    loaded = DOOR.from_ticket(services, p, flow.id, DOOR.ticket_for(services, flow) or "")
    assert loaded is not None
    assert (loaded.parent_origin, loaded.app_id) == (None, None)


def _tamper_payload(ticket: str) -> str:
    payload, _, signature = ticket.partition(".")
    return f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}"


def _tamper_signature(ticket: str) -> str:
    payload, _, signature = ticket.partition(".")
    return f"{payload}.{'0' * len(signature)}"


async def test_a_tampered_ticket_is_refused_and_the_post_finds_no_flow(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    flow = DOOR.new(services, p, ORIGIN)
    ticket = DOOR.ticket_for(services, flow) or ""
    for forged in (_tamper_payload(ticket), _tamper_signature(ticket), "garbage", ".", ""):
        assert DOOR.from_ticket(services, p, flow.id, forged) is None
        with pytest.raises(FlowNotFound):
            await DOOR.load(services, p, flow.id, csrf_token(services, flow.id), forged)


async def test_a_ticket_with_facts_the_format_does_not_have_is_refused(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    flow = DOOR.new(services, p, ORIGIN)
    issued = int(flow.created_at.timestamp())
    for fields in (
        [p.id, ORIGIN, issued, "app-1", "extra"],  # one fact too many
        [p.id, ORIGIN],  # no issue time
        [p.id, ORIGIN, "yesterday"],  # not a time
        [p.id, ORIGIN, 10**20],  # out of range
        [7, ORIGIN, issued],  # a pool that is no id
    ):
        signed = tickets.sign(services, "door-ticket", flow.id, fields)
        assert DOOR.from_ticket(services, p, flow.id, signed) is None, fields
    signed = tickets.sign(services, "door-ticket", flow.id, {"pool": p.id})  # type: ignore[arg-type]
    assert DOOR.from_ticket(services, p, flow.id, signed) is None


async def test_an_expired_ticket_is_refused(harness, clock) -> None:
    services, p = harness.web.services, await pool(harness)
    flow = DOOR.new(services, p, ORIGIN)
    ticket = DOOR.ticket_for(services, flow)
    clock.advance(services.settings.flow_ttl_seconds - 1)
    assert (await DOOR.load(services, p, flow.id, csrf_token(services, flow.id), ticket)).id
    clock.advance(1)
    with pytest.raises(FlowExpired):
        await DOOR.load(services, p, flow.id, csrf_token(services, flow.id), ticket)


async def test_a_ticket_of_one_kind_is_refused_by_another(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    door = DOOR.new(services, p, ORIGIN)
    ticket = DOOR.ticket_for(services, door) or ""
    assert GATE.from_ticket(services, p, door.id, ticket) is None
    with pytest.raises(FlowNotFound):
        await GATE.load(services, p, door.id, csrf_token(services, door.id), ticket)
    gate = GATE.new(services, p, ORIGIN)
    assert DOOR.from_ticket(services, p, gate.id, GATE.ticket_for(services, gate) or "") is None


async def test_a_ticket_of_another_flow_or_pool_is_refused(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    a, b = DOOR.new(services, p, ORIGIN), DOOR.new(services, p, ORIGIN)
    assert DOOR.from_ticket(services, p, a.id, DOOR.ticket_for(services, b) or "") is None
    other = await pool(harness, "business-1")
    elsewhere = DOOR.new(services, other, ORIGIN)
    ticket = DOOR.ticket_for(services, elsewhere) or ""
    assert DOOR.from_ticket(services, other, elsewhere.id, ticket) is not None
    assert DOOR.from_ticket(services, p, elsewhere.id, ticket) is None


async def test_a_kind_without_tickets_never_reads_one(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    stored_only = FlowKind("door", "closed", DOOR.transitions, done_message="door.left")
    flow = DOOR.new(services, p, ORIGIN)
    assert stored_only.ticket_for(services, flow) is None
    ticket = DOOR.ticket_for(services, flow) or ""
    assert stored_only.from_ticket(services, p, flow.id, ticket) is None


async def test_the_csrf_token_is_checked_before_the_ticket(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    a, b = DOOR.new(services, p, ORIGIN), DOOR.new(services, p, ORIGIN)
    for token in ("", "A" * 43, csrf_token(services, b.id)):
        with pytest.raises(CsrfMismatch):
            await DOOR.load(services, p, a.id, token, DOOR.ticket_for(services, a))


# --- saved flows ---------------------------------------------------------------------------


async def test_a_saved_flow_loads_without_a_ticket_and_carries_none(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    await saved(harness, "door", "open")
    flow = await DOOR.load(services, p, "door-open", csrf_token(services, "door-open"))
    assert is_saved(flow) and flow.state == "open"
    assert DOOR.ticket_for(services, flow) is None
    # A ticket beside a saved flow's id is not one of its own: the row decides.
    assert (await DOOR.load(services, p, "door-open", csrf_token(services, "door-open"), "x")).id


async def test_a_saved_flow_of_another_kind_pool_or_too_long_an_id_is_not_found(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    await saved(harness, "gate", "open")
    await saved(harness, "door", "open", pool_id="business-1")
    for flow_id in ("gate-open", "door-open", "nothing", "x" * 65):
        with pytest.raises(FlowNotFound):
            await DOOR.get(services, p, flow_id)
    assert (await GATE.get(services, p, "gate-open")).kind == "gate"


async def test_an_expired_flow_is_refused_unless_it_is_finished(harness, clock) -> None:
    services, p = harness.web.services, await pool(harness)
    for state in ("closed", "open", "done"):
        await saved(harness, "door", state)
    clock.advance(services.settings.flow_ttl_seconds)
    for state in ("closed", "open"):
        with pytest.raises(FlowExpired):
            await DOOR.get(services, p, f"door-{state}")
    assert (await DOOR.get(services, p, "door-done")).state == "done"


async def test_expires_in_names_the_states_an_expired_flow_is_refused_in(harness, clock) -> None:
    services, p = harness.web.services, await pool(harness)
    only_closed = FlowKind(
        "door",
        "closed",
        DOOR.transitions,
        done_message="door.left",
        expires_in=frozenset({"closed"}),
    )
    await saved(harness, "door", "closed")
    await saved(harness, "door", "open")
    clock.advance(services.settings.flow_ttl_seconds)
    with pytest.raises(FlowExpired):
        await only_closed.get(services, p, "door-closed")
    assert (await only_closed.get(services, p, "door-open")).state == "open"


async def test_first_step_places_a_new_flow_in_the_pool_s_form(harness) -> None:
    services, p = harness.web.services, await pool(harness)
    stepped = FlowKind(
        "door", "closed", DOOR.transitions, done_message="door.left", first_step=lambda v: v.id
    )
    assert stepped.new(services, p, None).step == p.id
