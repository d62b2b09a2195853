"""Passwords with control characters are refused with a message id on every path that
sets one; signing in as another account over a live session (``prompt=login``) ends the
session it replaces."""

from __future__ import annotations

import pytest

from tests.admin.keys import AdminClient
from tests.auth.people import make_user
from tests.conftest import Harness, rows
from tests.web.login_client import LoginClient
from widget_server.auth import sessions
from widget_server.models import Session
from widget_server.passwords.policy import DEFAULT_POLICY

GOOD = "Blue-Harbour-Kettle-42"


@pytest.mark.parametrize(
    "password",
    [
        GOOD + "\x00",
        "\x00" + GOOD,
        GOOD[:8] + "\t" + GOOD[8:],
        GOOD + "\n",
        GOOD + "\x7f",
        GOOD + "\x85",
        GOOD + "\x1b[0m",
        GOOD + "\ud800",
    ],
)
def test_control_characters_are_refused_before_any_rule(password: str) -> None:
    assert [m.id for m in DEFAULT_POLICY.validate(password)] == ["password.control_characters"]
    assert not any(result.ok for result in DEFAULT_POLICY.check(password))


def test_spaces_symbols_and_emoji_sequences_are_fine() -> None:
    for password in (GOOD + " with spaces", "Ünïcödé-Kettle-42", "👩\u200d💻 Harbour Kettle"):
        assert DEFAULT_POLICY.validate(password) == [], password


async def test_registration_refuses_a_nul_in_the_password(harness: Harness, widget) -> None:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="jane@example.com", password=GOOD + "\x00")
    assert page.status == 422
    assert page.field_errors("password") == ["password.control_characters"]


async def test_admin_create_refuses_a_control_character(operator: AdminClient) -> None:
    response = await operator.post(
        "/pools/partner-1/users",
        json={"email": "jane@example.com", "status": "active", "password": GOOD + "\x07"},
    )
    assert response.status_code == 422
    assert [(e["field"], e["id"]) for e in response.json()["errors"]] == [
        ("password", "password.control_characters")
    ]


async def test_prompt_login_as_another_account_ends_the_replaced_session(
    harness: Harness,
) -> None:
    ada = await make_user(harness, "ada@example.com")
    bob = await make_user(harness, "bob@example.com")
    client = LoginClient(harness)
    await client.log_in(ada.email, ada.password)
    ada_token = client.token
    assert ada_token is not None

    page = await client.log_in(bob.email, bob.password, prompt="login")
    assert page.state == "done" and client.token not in (None, ada_token)

    services = harness.web.services
    assert await sessions.current_session(services, ada_token, "partner-1") is None
    live = await sessions.current_session(services, client.token, "partner-1")
    assert live is not None and live.user_id == bob.user_id
    by_user = {row.user_id: row for row in await rows(harness, Session)}
    assert by_user[ada.user_id].revoked_at is not None
    assert by_user[bob.user_id].revoked_at is None


async def test_a_failed_switch_leaves_the_session_alone(harness: Harness) -> None:
    ada = await make_user(harness, "ada@example.com")
    bob = await make_user(harness, "bob@example.com")
    client = LoginClient(harness)
    await client.log_in(ada.email, ada.password)
    ada_token = client.token
    page = await client.log_in(bob.email, "wrong password entirely", prompt="login")
    assert page.state != "done"
    assert await sessions.current_session(harness.web.services, ada_token, "partner-1")
