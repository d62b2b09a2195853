"""The flows declared on the skeleton (``flows/base.py``): each kind's tickets are the
ones it wrote before it moved onto the base (a form opened before a release still posts
after it), no kind accepts another's tickets, and a finished flow says so in its words."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Harness
from widget_server import secrets_
from widget_server.errors import FlowExpired, FlowNotFound, FlowStateError
from widget_server.flows import invitation, login, mfa, recovery, registration
from widget_server.flows.base import FlowKind, csrf_token
from widget_server.models import Flow
from widget_server.pools import PoolView

ORIGIN = "http://127.0.0.1:8001"

# Every kind that travels unsaved, with how to open one.
UNSAVED: dict[str, Any] = {
    "registration": lambda s, p: registration.FLOW.new(s, p, ORIGIN),
    "login": lambda s, p: login.FLOW.new(s, p, ORIGIN),
    "recovery": lambda s, p: recovery.FLOW.new(s, p, ORIGIN),
}
KINDS: dict[str, FlowKind[Any, Any]] = {
    "registration": registration.FLOW,
    "login": login.FLOW,
    "recovery": recovery.FLOW,
}


def written_before(services: Any, purpose: str, flow_id: str, fields: list[Any]) -> str:
    """A ticket the way the flows wrote it by hand before the base existed."""
    payload = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
    signature = secrets_.keyed_hash(services.settings.secret_key, purpose, flow_id, payload)
    return f"{payload}.{signature}"


async def partner(h: Harness) -> PoolView:
    return await h.web.services.pools.get("partner-1")


async def test_registration_tickets_are_the_ones_written_before(harness) -> None:
    services, pool = harness.web.services, await partner(harness)
    for app_id, origin in ((None, ORIGIN), ("app-1", ORIGIN), (None, None), ("app-1", None)):
        flow = registration.FLOW.new(services, pool, origin, app_id)
        fields: list[Any] = [pool.id, origin or "", int(flow.created_at.timestamp())]
        fields += [app_id] if app_id else []
        before = written_before(services, "ticket", flow.id, fields)
        assert registration.FLOW.ticket_for(services, flow) == before
        loaded = registration.FLOW.from_ticket(services, pool, flow.id, before)
        assert loaded is not None
        assert (loaded.parent_origin, loaded.app_id, loaded.step) == (origin, app_id, "account")


async def test_login_tickets_are_the_ones_written_before(harness) -> None:
    services, pool = harness.web.services, await partner(harness)
    for app_id, origin in ((None, ORIGIN), ("app-1", ORIGIN), (None, None)):
        flow = login.FLOW.new(services, pool, origin, app_id)
        issued = int(flow.created_at.timestamp())
        fields = [pool.id, origin or "", app_id or "", issued]
        before = written_before(services, "login-ticket", flow.id, fields)
        assert login.FLOW.ticket_for(services, flow) == before
        loaded = login.FLOW.from_ticket(services, pool, flow.id, before)
        assert loaded is not None
        assert (loaded.state, loaded.parent_origin, loaded.app_id) == ("form", origin, app_id)


async def test_recovery_tickets_are_the_ones_written_before(harness) -> None:
    services, pool = harness.web.services, await partner(harness)
    for origin in (ORIGIN, None):
        flow = recovery.start(services, pool, origin)
        fields = [pool.id, origin or "", int(flow.created_at.timestamp())]
        before = written_before(services, "recovery-ticket", flow.id, fields)
        assert recovery.FLOW.ticket_for(services, flow) == before
        loaded = recovery.FLOW.from_ticket(services, pool, flow.id, before)
        assert loaded is not None
        assert (loaded.state, loaded.parent_origin) == ("identify", origin)


async def test_an_expired_login_waiting_for_its_second_factor_is_refused_by_mfa(
    harness, clock
) -> None:
    services, pool = harness.web.services, await partner(harness)
    now = clock.now()
    async with services.db.write() as session:
        for state in ("form", "mfa"):
            session.add(
                Flow(
                    id=f"login-{state}",
                    kind="login",
                    pool_id=pool.id,
                    state=state,
                    step="",
                    data={},
                    oauth={},
                    user_id="someone",
                    expires_at=now + timedelta(minutes=1),
                    created_at=now,
                    updated_at=now,
                )
            )
    clock.advance(60)
    with pytest.raises(FlowExpired):
        await login.get(services, pool, "login-form")
    # login.get leaves the mfa state to flows/mfa.py (expires_in), which refuses it.
    assert (await login.get(services, pool, "login-mfa")).state == "mfa"
    with pytest.raises(FlowExpired):
        await mfa.load(services, pool, "login-mfa", csrf_token(services, "login-mfa"))


async def test_an_invitation_and_a_set_password_link_are_not_each_other(harness) -> None:
    services, pool = harness.web.services, await partner(harness)
    now = harness.clock.now()
    async with services.db.write() as session:
        for kind, state in (("invitation", "code"), ("set_password", "password")):
            session.add(
                Flow(
                    id=kind,
                    kind=kind,
                    pool_id=pool.id,
                    state=state,
                    step="",
                    data={},
                    oauth={},
                    expires_at=now + timedelta(minutes=1),
                    created_at=now,
                    updated_at=now,
                )
            )
    for kind, other in (("invitation", "set_password"), ("set_password", "invitation")):
        assert (await invitation.get(services, pool, kind, kind)).kind == kind
        with pytest.raises(FlowNotFound):
            await invitation.get(services, pool, kind, other)
        with pytest.raises(FlowNotFound):
            await invitation.load(services, pool, kind, other, csrf_token(services, other))


async def test_no_kind_accepts_the_ticket_of_another(harness) -> None:
    services, pool = harness.web.services, await partner(harness)
    for name, open_flow in UNSAVED.items():
        flow = open_flow(services, pool)
        ticket = KINDS[name].ticket_for(services, flow)
        assert ticket is not None
        for other, kind in KINDS.items():
            loaded = kind.from_ticket(services, pool, flow.id, ticket)
            assert (loaded is not None) == (other == name), (name, other)


@pytest.mark.parametrize(
    ("kind", "finished", "wrong"),
    [
        (registration.FLOW, "flow.completed", ("form", "verify")),
        (login.FLOW, "login.done", ("form", "verify_mfa")),
        (recovery.FLOW, "recovery.complete", ("identify", "reset")),
        (invitation.FLOWS["invitation"], "flow.completed", ("code", "set_password")),
        (invitation.FLOWS["set_password"], "flow.completed", ("password", "verify")),
    ],
)
def test_a_finished_flow_refuses_every_move_in_its_own_words(
    kind: FlowKind[Any, Any], finished: str, wrong: tuple[str, str]
) -> None:
    for _, action in kind.transitions:
        with pytest.raises(FlowStateError) as caught:
            kind.transition("done", action)
        assert caught.value.message_id == finished
    with pytest.raises(FlowStateError) as caught:
        kind.transition(*wrong)
    assert caught.value.message_id == "flow.wrong_step"
