"""What events carry: never a secret; always what their published schema says. And what a
pool without endpoints pays for them: nothing."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator, ValidationError
from sqlalchemy import select

from tests.auth.people import make_user
from tests.conftest import Harness, deliver_all
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from tests.webhooks.conftest import Hooks, Receiver, valid_body
from widget_server.admin import apps, users
from widget_server.models import (
    AdminPrincipal,
    Code,
    Credential,
    Flow,
    MfaFactor,
    PasswordHistory,
    Session,
    WebhookEvent,
)
from widget_server.users.inputs import NewUser, UserPatch
from widget_server.webhooks import emit, manage
from widget_server.webhooks.events import EVENT_TYPES, event_schemas
from widget_server.webhooks.subscriptions import subscribed_events

PASSWORD = "Blue-Harbour-Kettle-42"


async def _secrets(h: Harness) -> set[str]:
    """Every stored hash, code, token and seed: none may reach a partner."""
    columns = (
        Credential.secret_hash,
        PasswordHistory.secret_hash,
        Code.code_hash,
        Session.token_hash,
        Flow.password_hash,
        MfaFactor.secret,
        AdminPrincipal.secret_hash,
    )
    found: set[str] = set()
    async with h.web.services.db.read() as session:
        for column in columns:
            found |= {v for v in (await session.execute(select(column))).scalars() if v}
    return found


async def test_no_payload_carries_a_secret(
    harness: Harness, hooks: Hooks, receiver: Receiver, widget: Any
) -> None:
    made = await hooks.endpoint(receiver.url())
    w = widget()
    await w.open()
    await w.post(email="jo@example.com", password=PASSWORD)
    await deliver_all(harness)
    [code] = harness.codes_for("jo@example.com")
    await w.code(code)
    ada = await make_user(harness)
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    await client.post("password", current_password=ada.password, new_password="a new passphrase")
    await LoginClient(harness).log_in(ada.email, "wrong password!")
    await users.update_user(
        hooks.services,
        hooks.operator.actor,
        "partner-1",
        ada.user_id,
        UserPatch(metadata={"roles": ["buyer"]}),
    )
    await hooks.drain()

    secrets = await _secrets(harness)
    typed = {
        PASSWORD,
        code,
        ada.password,
        "a new passphrase",
        "wrong password!",
        client.login.token,
    }
    assert len(secrets) >= 6
    bodies = [r.verify(made.secret) for r in receiver.at("/hook")]
    assert {b["type"] for b in bodies} == set(EVENT_TYPES) - {"user.deleted"}
    for body in bodies:
        valid_body(body)
        text = msgspec.json.encode(body).decode()
        for secret in secrets | typed:
            assert secret is not None and secret not in text, body["type"]
        for word in ("hash", "password_", "token", "secret", "code"):
            assert f'"{word}' not in text


async def test_password_fields_of_a_schema_stay_out_of_the_payload(
    harness: Harness, hooks: Hooks
) -> None:
    pool = await harness.web.services.pools.get("partner-1")
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "x-identifier": True},
            "pin": {"type": "string", "x-widget": "password"},
        },
    }
    pool = msgspec.structs.replace(pool, schema=schema)
    assert emit.public_payload(pool, {"email": "a@example.com", "pin": "1234"}) == {
        "email": "a@example.com"
    }


def test_every_schema_is_a_valid_draft_2020_12_schema() -> None:
    schemas = event_schemas()
    assert set(schemas) == {*EVENT_TYPES, "webhook.test"}
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    # The schema pins the type: a body of one type does not pass as another.
    registered = schemas["user.registered"]
    with pytest.raises(ValidationError, match=re.escape("'user.registered'")):
        Draft202012Validator(registered).validate(
            {"type": "user.deleted", "timestamp": "2026-01-01T00:00:00Z", "data": {}}
        )


# --- the cost for pools without endpoints -------------------------------------------------


async def test_a_pool_without_endpoints_writes_and_reads_nothing_for_events(
    harness: Harness, widget: Any, operator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registration, the code, logins and admin changes never reach the event code
    beyond asking the cached pool snapshot: no profile read, no insert."""

    def forbidden(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("an event was written for a pool without endpoints")

    monkeypatch.setattr(emit, "profile", forbidden)
    monkeypatch.setattr(emit, "event_row", forbidden)
    monkeypatch.setattr(emit.INSERT_EVENT_PREPARED, "run", forbidden)
    pool = await harness.web.services.pools.get("partner-1")
    assert pool.webhook_events == frozenset()

    w = widget()
    await w.open()
    await w.post(email="jo@example.com", password=PASSWORD)
    await deliver_all(harness)
    [code] = harness.codes_for("jo@example.com")
    assert (await w.code(code)).state == "done"
    assert (await LoginClient(harness).log_in("jo@example.com", PASSWORD)).state == "done"
    await LoginClient(harness).log_in("jo@example.com", "wrong password!")
    view = await users.create_user(
        harness.web.services, operator.actor, "partner-1", NewUser(email="n@example.com")
    )
    await users.delete_user(harness.web.services, operator.actor, "partner-1", view.id)
    async with harness.web.services.db.read() as session:
        assert (await session.execute(select(WebhookEvent))).first() is None


async def test_endpoints_change_the_pools_snapshot_at_once(harness: Harness, hooks: Hooks) -> None:
    services = harness.web.services
    before = await services.pools.get("partner-1")
    made = await hooks.endpoint("https://hooks.example/in", event_types=["login.failed"])
    after = await services.pools.get("partner-1")
    assert after.version == before.version + 1
    assert after.webhook_events == frozenset({"login.failed"})
    await manage.update_endpoint(
        services, hooks.operator.actor, made.endpoint.id, manage.EndpointPatch(enabled=False)
    )
    assert (await services.pools.get("partner-1")).webhook_events == frozenset()
    await manage.update_endpoint(
        services, hooks.operator.actor, made.endpoint.id, manage.EndpointPatch(enabled=True)
    )
    assert (await services.pools.get("partner-1")).webhook_events == frozenset({"login.failed"})
    await manage.delete_endpoint(services, hooks.operator.actor, made.endpoint.id)
    assert (await services.pools.get("partner-1")).webhook_events == frozenset()
    assert (await services.pools.get("partner-2")).version == 1  # another pool: untouched


async def test_an_apps_endpoint_concerns_the_pools_it_accepts(
    harness: Harness, hooks: Hooks
) -> None:
    created = await apps.create_app(
        harness.web.services,
        hooks.operator.actor,
        apps.NewApp(name="Shop", kind="public", pool_ids=["partner-1", "partner-2"]),
    )
    await hooks.endpoint("https://shop.example/hooks", app_id=created.app.id)
    async with harness.web.services.db.read() as session:
        for pool_id in ("partner-1", "partner-2"):
            assert await subscribed_events(session, "acme", pool_id) == frozenset(EVENT_TYPES)
        assert await subscribed_events(session, "acme", "business-1") == frozenset()
    await apps.revoke_app(harness.web.services, hooks.operator.actor, created.app.id)
    async with harness.web.services.db.read() as session:
        assert await subscribed_events(session, "acme", "partner-1") == frozenset()
