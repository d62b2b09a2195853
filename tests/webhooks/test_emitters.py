"""Every path that creates or changes a user writes its event, in the transaction of the
change, once a pool has an endpoint; and login success and failure do too. One test per
path; the rows are checked here, their delivery in test_delivery.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import update

from tests.auth.people import make_user
from tests.conftest import PARTNER, FlowPage, Harness, deliver_all
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from tests.webhooks.conftest import Hooks
from widget_server.account import addresses, profile
from widget_server.admin import users
from widget_server.flows import invitation
from widget_server.models import App, Pool, User, WebhookEvent
from widget_server.users.inputs import NewUser, UserPatch

PASSWORD = "Blue-Harbour-Kettle-42"
ENDPOINT = "https://hooks.partner.example/in"


@pytest.fixture
async def subscribed(hooks: Hooks) -> Hooks:
    """An endpoint on partner-1 and one on business-1 (never called: no worker runs)."""
    await hooks.endpoint(ENDPOINT)
    await hooks.endpoint(ENDPOINT, pool_id="business-1")
    return hooks


def only(found: list[WebhookEvent], event_type: str) -> WebhookEvent:
    [event] = [e for e in found if e.type == event_type]
    return event


async def registered(h: Harness, widget: Any, email: str = "jo@example.com") -> Any:
    w = widget()
    await w.open()
    page = await w.post(email=email, password=PASSWORD)
    assert page.state == "code", page.message_ids
    return w


# --- self-registration ------------------------------------------------------------------


async def test_self_registration_then_its_code(
    harness: Harness, subscribed: Hooks, widget: Any
) -> None:
    w = await registered(harness, widget)
    [event] = await subscribed.events()
    assert (event.type, event.pool_id, event.tenant_id) == ("user.registered", "partner-1", "acme")
    data = event.data
    assert data["source"] == "registration" and data["app_id"] is None
    assert data["user"]["status"] == "new" and data["user"]["addresses"] == []
    assert data["user"]["payload"] == {"email": "jo@example.com"}
    assert event.user_id == data["user"]["id"]

    await deliver_all(harness)
    [code] = harness.codes_for("jo@example.com")
    assert (await w.code(code)).state == "done"
    activated = only(await subscribed.events(), "user.activated")
    user = activated.data["user"]
    assert activated.user_id == event.user_id and user["status"] == "active"
    assert [(a["kind"], a["value"]) for a in user["addresses"]] == [("email", "jo@example.com")]
    assert user["activated_at"] is not None and activated.data["source"] == "registration"


async def test_an_abandoned_registration_giving_its_address_up_is_a_deletion(
    harness: Harness, subscribed: Hooks, widget: Any
) -> None:
    await registered(harness, widget)
    [first] = await subscribed.events()
    harness.clock.advance(harness.settings.code_ttl_seconds + 1)
    await registered(harness, widget)
    types = [(e.type, e.user_id) for e in await subscribed.events()]
    second = types[-1][1]
    assert types == [
        ("user.registered", first.user_id),
        ("user.deleted", first.user_id),
        ("user.registered", second),
    ]
    deleted = only(await subscribed.events(), "user.deleted").data
    assert deleted["reason"] == "abandoned" and deleted["user"]["id"] == first.user_id


async def test_a_taken_address_writes_no_event(
    harness: Harness, subscribed: Hooks, widget: Any
) -> None:
    await make_user(harness, "taken@example.com")
    await registered(harness, widget, "taken@example.com")
    assert await subscribed.events() == []


# --- administration -----------------------------------------------------------------------


async def test_admin_creates_a_user_waiting_for_activation(subscribed: Hooks) -> None:
    view = await users.create_user(
        subscribed.services, subscribed.operator.actor, "partner-1", NewUser(email="n@example.com")
    )
    [event] = await subscribed.events()
    assert event.type == "user.registered" and event.user_id == view.id
    assert event.data["source"] == "admin" and event.data["user"]["status"] == "new"


async def test_admin_creates_an_active_user(subscribed: Hooks) -> None:
    new = NewUser(email="a@example.com", status="active", password=PASSWORD)
    view = await users.create_user(subscribed.services, subscribed.operator.actor, "partner-1", new)
    found = await subscribed.events()
    assert [(e.type, e.user_id) for e in found] == [
        ("user.registered", view.id),
        ("user.activated", view.id),
    ]
    assert found[1].data["user"]["addresses"][0]["value"] == "a@example.com"


async def test_admin_edits_changes_status_and_deletes(subscribed: Hooks) -> None:
    services, actor = subscribed.services, subscribed.operator.actor
    view = await users.create_user(services, actor, "partner-1", NewUser(email="e@example.com"))
    patch = UserPatch(metadata={"customer": "C-1"})
    await users.update_user(services, actor, "partner-1", view.id, patch)
    await users.update_user(services, actor, "partner-1", view.id, patch)  # no change: no event
    for action in ("activate", "deactivate", "reactivate"):
        await users.change_status(services, actor, "partner-1", view.id, action)  # type: ignore[arg-type]
    await users.delete_user(services, actor, "partner-1", view.id)

    found = await subscribed.events()
    assert [(e.type, e.data.get("changes")) for e in found] == [
        ("user.registered", None),
        ("user.updated", ["metadata.customer"]),
        ("user.activated", None),
        ("user.updated", ["status"]),
        ("user.updated", ["status"]),
        ("user.deleted", None),
    ]
    assert found[1].data["user"]["metadata"] == {"customer": "C-1"}
    assert found[3].data["user"]["status"] == "inactive"
    assert found[5].data == {
        "user": {
            "id": view.id,
            "pool_id": "partner-1",
            "status": "deleted",
            "deleted_at": found[5].data["user"]["deleted_at"],
        },
        "source": "admin",
        "reason": "admin",
    }


# --- invitations --------------------------------------------------------------------------


async def _invited(h: Harness, hooks: Hooks, **fields: Any) -> tuple[str, str, str]:
    """(user id, flow id, secret from the email: the code, or the set-password token)."""
    view = await users.create_user(
        hooks.services, hooks.operator.actor, "partner-1", NewUser(email="tm@example.com", **fields)
    )
    await deliver_all(h)
    [mail] = [m for m in h.sender.sent if m.recipient == "tm@example.com"]
    link = re.search(
        r"/embed/partner-1/(?:activate|set-password)/([\w-]+)(?:\?token=(\S+))?", mail.body_text
    )
    assert link is not None
    code = re.search(r"\b(\d{6})\b", mail.subject)
    secret = link.group(2) or (code.group(1) if code else "")
    return view.id, link.group(1), secret


async def test_an_invited_user_enters_the_code_and_a_password(
    harness: Harness, subscribed: Hooks
) -> None:
    user_id, flow_id, code = await _invited(harness, subscribed)
    services = subscribed.services
    pool = await services.pools.get("partner-1")
    flow = await invitation.get(services, pool, "invitation", flow_id)
    flow = await invitation.verify_code(services, pool, flow, code)
    assert [e.type for e in await subscribed.events()] == ["user.registered"]  # not yet
    await invitation.set_password(services, pool, flow, PASSWORD)
    activated = only(await subscribed.events(), "user.activated")
    assert activated.user_id == user_id and activated.data["source"] == "invitation"
    assert activated.data["user"]["status"] == "active"


async def test_an_invited_user_whose_admin_set_the_password_enters_the_code(
    harness: Harness, subscribed: Hooks
) -> None:
    user_id, flow_id, code = await _invited(harness, subscribed, password=PASSWORD)
    services = subscribed.services
    pool = await services.pools.get("partner-1")
    flow = await invitation.get(services, pool, "invitation", flow_id)
    assert (await invitation.verify_code(services, pool, flow, code)).state == "done"
    assert only(await subscribed.events(), "user.activated").user_id == user_id


async def test_a_set_password_link_is_a_password_change(
    harness: Harness, subscribed: Hooks
) -> None:
    user_id, flow_id, token = await _invited(
        harness, subscribed, status="active", send_set_password_link=True
    )
    services = subscribed.services
    pool = await services.pools.get("partner-1")
    flow = await invitation.get(services, pool, "set_password", flow_id)
    await invitation.set_password(services, pool, flow, PASSWORD, token)
    updated = only(await subscribed.events(), "user.updated")
    assert updated.user_id == user_id
    assert (updated.data["changes"], updated.data["source"]) == (["password"], "invitation")


# --- the account portal and recovery ------------------------------------------------------


async def _business_user(h: Harness) -> str:
    ada = await make_user(h, "jane@corp.example", pool="business-1")
    payload = {
        "email": "jane@corp.example",
        "first_name": "Jane",
        "last_name": "Doe",
        "date_of_birth": "1990-02-03",
        "company": "ACME Corp",
        "country": "DE",
        "terms": True,
        "newsletter": False,
    }
    async with h.web.services.db.write() as session:
        await session.execute(update(User).where(User.id == ada.user_id).values(payload=payload))
    return ada.user_id


async def test_a_profile_edit(harness: Harness, subscribed: Hooks) -> None:
    user_id = await _business_user(harness)
    services = subscribed.services
    pool = await services.pools.get("business-1")
    form = {
        "first_name": ["Janet"],
        "last_name": ["Doe"],
        "date_of_birth": ["1990-02-03"],
        "company": ["ACME Corp"],
        "job_title": [""],
        "country": ["DE"],
    }
    await profile.update_profile(services, pool, user_id, form)
    [event] = await subscribed.events()
    assert (event.type, event.pool_id, event.user_id) == ("user.updated", "business-1", user_id)
    assert event.data["changes"] == ["payload.first_name"]
    assert event.data["user"]["payload"]["first_name"] == "Janet"
    assert event.data["source"] == "account"


async def test_adding_and_removing_an_address(harness: Harness, subscribed: Hooks) -> None:
    ada = await make_user(harness)
    services = subscribed.services
    pool = await services.pools.get("partner-1")
    await addresses.add_address(services, pool, ada.user_id, "second@example.com")
    assert await subscribed.events() == []  # not before the code proves the mailbox
    await deliver_all(harness)
    [code] = harness.codes_for("second@example.com")
    await addresses.verify_address(services, pool, ada.user_id, code)
    [event] = await subscribed.events()
    assert event.data["changes"] == ["addresses"]
    assert {a["value"] for a in event.data["user"]["addresses"]} == {
        "ada@example.com",
        "second@example.com",
    }
    listed, _ = await addresses.list_addresses(services, pool, ada.user_id)
    [second] = [a for a in listed if a.value == "second@example.com"]
    await addresses.remove_address(services, pool, ada.user_id, second.id)
    removed = (await subscribed.events())[-1]
    assert removed.data["changes"] == ["addresses"]
    assert [a["value"] for a in removed.data["user"]["addresses"]] == ["ada@example.com"]


async def test_a_password_change_in_the_account_portal(harness: Harness, subscribed: Hooks) -> None:
    ada = await make_user(harness)
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    page = await client.post(
        "password", current_password=ada.password, new_password="a fresh long passphrase"
    )
    assert page.status == 200
    updated = only(await subscribed.events(), "user.updated")
    assert (updated.user_id, updated.data["changes"]) == (ada.user_id, ["password"])


async def _step(h: Harness, page: FlowPage, suffix: str, **fields: str) -> FlowPage:
    hidden = {k: v for k, v in page.hidden.items() if k != "step"}
    response = await h.client.post("/embed/partner-1/recover" + suffix, data=hidden | fields)
    if response.status_code == 303:
        response = await h.client.get(response.headers["location"])
    return FlowPage(response, "partner-1")


async def test_a_password_reset_by_recovery(harness: Harness, subscribed: Hooks) -> None:
    ada = await make_user(harness)
    opened = await harness.client.get("/embed/partner-1/recover", params={"parent_origin": PARTNER})
    page = await _step(harness, FlowPage(opened, "partner-1"), "", identifier=ada.email)
    await deliver_all(harness)
    [code] = harness.codes_for(ada.email)
    page = await _step(harness, page, "/code", code=code)
    assert (await _step(harness, page, "/password", password="a new passphrase")).state == "done"
    [event] = await subscribed.events()
    assert (event.type, event.data["changes"], event.data["source"]) == (
        "user.updated",
        ["password"],
        "recovery",
    )


# --- logins -------------------------------------------------------------------------------


async def test_a_login(harness: Harness, subscribed: Hooks) -> None:
    ada = await make_user(harness)
    page = await LoginClient(harness).log_in(ada.email, ada.password)
    assert page.state == "done"
    [event] = await subscribed.events()
    assert (event.type, event.user_id, event.app_id) == ("login.succeeded", ada.user_id, None)
    assert event.data == {
        "user_id": ada.user_id,
        "pool_id": "partner-1",
        "app_id": None,
        "amr": ["pwd"],
    }


async def test_a_login_to_an_app(harness: Harness, subscribed: Hooks) -> None:
    """The embedded app login (its one-time code in the same transaction)."""
    now = harness.clock.now()
    async with harness.web.services.db.write() as session:
        session.add(
            App(
                id="shop",
                tenant_id="acme",
                name="Shop",
                kind="public",
                secret_hash=None,
                allowed_origins=[PARTNER],
                redirect_uris=[],
                pool_ids=["partner-1"],
                scopes=[],
                theme={},
                created_at=now,
                updated_at=now,
                revoked_at=None,
            )
        )
    ada = await make_user(harness)
    page = await LoginClient(harness).log_in(ada.email, ada.password, client_id="shop")
    assert page.state == "done"
    [event] = await subscribed.events()
    assert (event.type, event.app_id, event.data["app_id"]) == ("login.succeeded", "shop", "shop")


async def test_a_login_with_a_second_factor_succeeds_after_it(
    harness: Harness, subscribed: Hooks
) -> None:
    async with harness.web.services.db.write() as session:
        await session.execute(update(Pool).where(Pool.id == "partner-1").values(mfa="required"))
    harness.web.services.pools.forget("partner-1")
    ada = await make_user(harness)
    client = LoginClient(harness)
    page = await client.log_in(ada.email, ada.password)
    assert page.state == "mfa"
    assert await subscribed.events() == []  # not yet: the second factor is missing
    await deliver_all(harness)
    [code] = harness.codes_for(ada.email)
    form = re.search(r'data-mfa-method="email".*?</form>', page.text, re.S)
    assert form is not None
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form.group(0)))
    body = {k: fields[k] for k in ("flow_id", "csrf_token", "method")} | {"code": code}
    assert (await client.post("/embed/partner-1/login/mfa", body)).state == "done"
    [event] = await subscribed.events()
    assert event.type == "login.succeeded" and event.data["amr"] == ["pwd", "otp"]


async def test_failed_logins_name_a_known_user_and_nothing_else(
    harness: Harness, subscribed: Hooks
) -> None:
    ada = await make_user(harness)
    await make_user(harness, "off@example.com", status="inactive")
    for identifier, password in (
        ("nobody@example.com", PASSWORD),
        (ada.email, "not her password"),
        ("off@example.com", "correct horse battery"),  # right password, may not log in
        ("not an address", PASSWORD),
    ):
        page = await LoginClient(harness).log_in(identifier, password)
        assert page.message_ids == ["login.failed"]
    found = await subscribed.events()
    assert [e.type for e in found] == ["login.failed"] * 4
    assert [e.data for e in found] == [
        {"pool_id": "partner-1", "app_id": None, "reason": "failed"},
        {"pool_id": "partner-1", "app_id": None, "reason": "failed", "user_id": ada.user_id},
        {"pool_id": "partner-1", "app_id": None, "reason": "failed", "user_id": found[2].user_id},
        {"pool_id": "partner-1", "app_id": None, "reason": "failed"},
    ]
    assert found[2].user_id not in (None, ada.user_id)
    assert all("example.com" not in str(e.data) for e in found)
