"""The paths test_emitters.py did not cover: a second factor added or removed in the
account portal (``user.updated`` with ``mfa``), and the hook an import of users calls
(``emit.user_imported``); each body valid against its published schema."""

from __future__ import annotations

import re

import msgspec
import pyotp
import pytest
from sqlalchemy import update

from tests.auth.people import make_user
from tests.conftest import Harness
from tests.web.account_client import AccountClient
from tests.webhooks.conftest import Hooks, valid_body
from widget_server.models import Pool, WebhookEvent
from widget_server.webhooks import emit, events

ENDPOINT = "https://hooks.partner.example/in"


@pytest.fixture
async def subscribed(hooks: Hooks) -> Hooks:
    await hooks.endpoint(ENDPOINT)
    return hooks


def checked(event: WebhookEvent) -> dict[str, object]:
    """The event's request body, after checking it against the published schema."""
    body = msgspec.json.decode(events.body(event.type, event.created_at, event.data))
    return valid_body(body)


async def test_adding_and_removing_a_second_factor_is_an_update(
    harness: Harness, subscribed: Hooks
) -> None:
    async with harness.web.services.db.write() as db:
        await db.execute(update(Pool).where(Pool.id == "partner-1").values(mfa="optional"))
    harness.web.services.pools.forget("partner-1")
    ada = await make_user(harness)
    account = AccountClient(harness)
    await account.sign_in(ada.email, ada.password)
    page = await account.post("mfa/totp")
    shown = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", page.text)
    assert shown is not None
    seed = shown.group(1).replace(" ", "")
    before = len(await subscribed.events("user.updated"))
    wrong = await account.post("mfa/totp/confirm", code="000000")
    assert wrong.status == 422
    assert len(await subscribed.events("user.updated")) == before  # nothing changed
    code = pyotp.TOTP(seed).at(harness.clock.now())
    await account.post("mfa/totp/confirm", code=code)
    [enrolled] = (await subscribed.events("user.updated"))[before:]
    assert (enrolled.user_id, enrolled.data["changes"], enrolled.data["source"]) == (
        ada.user_id,
        ["mfa"],
        "account",
    )
    checked(enrolled)

    refused = await account.post("mfa/totp/disable", password="not the password")
    assert refused.status == 422
    assert len(await subscribed.events("user.updated")) == before + 1
    await account.post("mfa/totp/disable", password=ada.password)
    [removed] = (await subscribed.events("user.updated"))[before + 1 :]
    assert (removed.user_id, removed.data["changes"]) == (ada.user_id, ["mfa"])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("active", ["user.registered", "user.activated"]),
        ("new", ["user.registered"]),
    ],
)
async def test_the_import_hook_writes_what_an_admins_creation_writes(
    harness: Harness, subscribed: Hooks, status: str, expected: list[str]
) -> None:
    services = harness.web.services
    person = await make_user(harness, status=status)
    pool = await services.pools.get("partner-1")
    async with services.db.write() as session:
        await emit.user_imported(session, pool, person.user_id, harness.clock.now())
    found = [e for e in await subscribed.events() if e.user_id == person.user_id]
    assert [e.type for e in found] == expected
    for event in found:
        body = checked(event)
        assert body["data"]["source"] == "import"  # type: ignore[index]
        assert body["data"]["user"]["id"] == person.user_id  # type: ignore[index]


async def test_the_import_hook_costs_nothing_without_subscribers(
    harness: Harness, hooks: Hooks
) -> None:
    person = await make_user(harness)
    pool = await harness.web.services.pools.get("partner-1")
    async with harness.web.services.db.write() as session:
        await emit.user_imported(session, pool, person.user_id, harness.clock.now())
    assert await hooks.events() == []
