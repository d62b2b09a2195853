"""End users' own events in the audit log (registered, activated, password reset), so a
pool admin can answer "what happened to this account" from one list."""

from __future__ import annotations

from typing import Any

from tests.admin.keys import AdminClient
from tests.auth.people import make_user
from tests.conftest import Harness, rows
from tests.web.test_recovery import Recovery, _code
from widget_server.admin.audit import END_USER
from widget_server.models import AuditEvent, User

PASSWORD = "Blue-Harbour-Kettle-42"


def _trail(events: list[AuditEvent], user_id: str) -> list[tuple[str, str, str | None]]:
    return [
        (e.action, e.actor_name, e.actor_id)
        for e in sorted(events, key=lambda e: e.id)
        if e.target_id == user_id
    ]


async def test_registration_and_activation_are_in_the_audit_log(
    harness: Harness, widget: Any, operator: AdminClient
) -> None:
    w = widget("partner-1")
    await w.open()
    await w.post(email="jane@example.com", password=PASSWORD)
    assert [e.action for e in await rows(harness, AuditEvent)] == []  # not an account yet
    await harness.deliver()
    [code] = harness.codes_for("jane@example.com")
    assert (await w.code(code)).state == "done"
    [user] = await rows(harness, User)
    events = await rows(harness, AuditEvent)
    assert _trail(events, user.id) == [
        ("user.registered", END_USER, None),
        ("user.activated", END_USER, None),
    ]
    registered = next(e for e in events if e.action == "user.registered")
    assert registered.created_at == user.created_at and registered.pool_id == "partner-1"
    # The pool admin's view of the account: the API's audit list by target.
    listed = await operator.get("/pools/partner-1/audit", params={"target_id": user.id})
    assert listed.status_code == 200, listed.text
    assert [e["action"] for e in listed.json()][::-1] == ["user.registered", "user.activated"]


async def test_a_password_reset_is_in_the_audit_log(harness: Harness) -> None:
    ada = await make_user(harness)
    flow = Recovery(harness)
    await flow.ask(ada.email)
    await flow.code(await _code(harness, ada.email))
    assert (await flow.password("a brand new passphrase")).state == "done"
    [event] = [e for e in await rows(harness, AuditEvent) if e.target_id == ada.user_id]
    assert (event.action, event.actor_name, event.details["via"]) == (
        "user.password_reset",
        END_USER,
        "recovery",
    )
