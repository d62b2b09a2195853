"""The account portal inside the widget: signed in by the session cookie, CSRF from the
session, profile (schema-driven, read-only and unknown fields refused, metadata never
touched), password change, second addresses by code, sessions, sign-in prompt."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from tests.auth.people import Person, make_user
from tests.conftest import PARTNER, Harness, deliver_all, rows
from tests.web.account_client import AccountClient
from tests.web.login_client import LoginClient
from widget_server import secrets_
from widget_server.auth import sessions
from widget_server.models import (
    Address,
    Code,
    Flow,
    IdentitySchema,
    MfaFactor,
    Pool,
    Session,
    User,
)

PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "x-steps": [{"id": "account", "title": "Account"}, {"id": "about", "title": "About you"}],
    "properties": {
        "email": {"type": "string", "format": "email", "title": "Email", "x-identifier": True,
                  "x-step": "account"},
        "first_name": {"type": "string", "title": "First name", "minLength": 1, "maxLength": 20,
                       "x-step": "about"},
        "customer_no": {"type": "string", "title": "Customer number", "x-readonly": True,
                        "x-step": "about"},
        "age": {"type": "integer", "title": "Age", "minimum": 18, "x-step": "about"},
        "newsletter": {"type": "boolean", "title": "News", "x-step": "about"},
        "terms": {"type": "boolean", "const": True, "title": "Terms", "x-step": "about"},
    },
    "required": ["email", "first_name", "terms"],
    "additionalProperties": False,
}  # fmt: skip


async def use_schema(h: Harness, schema: dict[str, Any], pool: str = "partner-1") -> None:
    async with h.web.services.db.write() as db:
        db.add(
            IdentitySchema(
                id="profile-test", tenant_id="acme", name="Profile test", kind="payload",
                body=schema, builtin=False, created_at=h.clock.now(),
            )
        )  # fmt: skip
        await db.flush()
        await db.execute(
            update(Pool)
            .where(Pool.id == pool)
            .values(payload_schema_id="profile-test", version=Pool.version + 1)
        )
    h.web.services.pools.forget(pool)


async def set_payload(h: Harness, user_id: str, payload: dict[str, Any], **extra: Any) -> None:
    async with h.web.services.db.write() as db:
        await db.execute(update(User).where(User.id == user_id).values(payload=payload, **extra))


async def user_row(h: Harness, user_id: str) -> User:
    async with h.web.services.db.read() as db:
        user = await db.get(User, user_id)
    assert user is not None
    return user


@pytest.fixture
async def ada(harness: Harness) -> Person:
    return await make_user(harness)


@pytest.fixture
async def account(harness: Harness, ada: Person) -> AccountClient:
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    return client


# --- the page and who may see it -----------------------------------------------------------


async def test_without_a_session_the_page_asks_to_sign_in(harness: Harness) -> None:
    for headers in ({}, {"HX-Request": "true"}):
        response = await harness.client.get(
            "/embed/partner-1/account", params={"parent_origin": PARTNER}, headers=headers
        )
        assert response.status_code == 401
        assert 'data-state="signin"' in response.text
        assert 'data-message-id="account.signed_out"' in response.text
        assert 'href="/embed/partner-1/login?parent_origin=http%3A%2F%2F127.0.0.1%3A8001"' in (
            response.text
        )
        assert "csrf_token" not in response.text


async def test_a_post_without_a_session_changes_nothing(harness: Harness, ada: Person) -> None:
    response = await harness.client.post(
        "/embed/partner-1/account/password",
        data={"csrf_token": "x" * 43, "current_password": ada.password, "new_password": "n" * 20},
    )
    assert response.status_code == 401 and 'data-state="signin"' in response.text


async def test_the_page_is_themed_framed_by_the_pool_and_lists_everything(
    account: AccountClient, ada: Person
) -> None:
    page = account.page
    assert page is not None and page.status == 200 and page.state == "account"
    headers = page.response.headers
    assert PARTNER in headers["content-security-policy"]
    assert "frame-ancestors" in headers["content-security-policy"]
    assert headers["vary"] == "HX-Request" and headers["cache-control"] == "no-store"
    assert "/embed/partner-1/theme.css" in page.text
    assert f'<meta name="ws-parent-origin" content="{PARTNER}">' in page.text
    for section in ("profile", "password", "addresses", "sessions"):
        assert f'id="{section}"' in page.text
    assert ada.email in account.section("addresses")
    assert 'data-action="logout"' in page.text


async def test_htmx_gets_the_card_only(harness: Harness, ada: Person) -> None:
    client = AccountClient(harness, htmx=True)
    page = await client.sign_in(ada.email, ada.password)
    assert page.text.startswith('<main class="ws-card ws-card--account"')
    assert "<html" not in page.text and page.response.headers["vary"] == "HX-Request"


async def test_an_expired_session_gets_the_prompt(harness: Harness, account: AccountClient) -> None:
    harness.clock.advance(3601)  # the pool's idle lifetime
    page = await account.open()
    assert page.status == 401 and page.state == "signin"


async def test_csrf_missing_or_forged_is_refused(harness: Harness, account: AccountClient) -> None:
    other = AccountClient(harness)
    bob = await make_user(harness, "bob@example.com")
    await other.sign_in(bob.email, bob.password)
    for token in (None, "forged-" + "x" * 36, other.csrf, ""):
        csrf = account.csrf if token == "" else token
        if token == "":
            csrf = csrf[:-1] + ("a" if csrf[-1] != "a" else "b")
        page = await account.post("sessions/end-others", csrf=csrf)
        assert page.status == 403, token
        assert "account.csrf" in account.section_messages("sessions")
    # Nothing was ended: the other browser (same user) would still be signed in.
    second = LoginClient(harness)
    await second.log_in("ada@example.com", "correct horse battery")
    page = await account.post("sessions/end-others", csrf=None)
    assert page.status == 403
    assert await sessions.current_session(harness.web.services, second.token, "partner-1")


# --- profile ---------------------------------------------------------------------------------


async def test_profile_edits_are_validated_like_registration(harness: Harness, ada: Person) -> None:
    await use_schema(harness, PROFILE_SCHEMA)
    await set_payload(
        harness,
        ada.user_id,
        {"email": ada.email, "first_name": "Ada", "customer_no": "C-7", "terms": True},
        metadata_={"roles": ["vip"]},
    )
    client = AccountClient(harness)
    page = await client.sign_in(ada.email, ada.password)
    profile = client.section("profile")
    assert 'name="first_name" type="text" value="Ada"' in profile
    assert 'name="customer_no"' not in profile and "C-7" in profile  # shown, not editable
    assert 'name="email"' not in profile and 'name="terms"' not in profile
    page = await client.post("profile", first_name="  Augusta ", age="36", newsletter="on")
    assert page.status == 200 and "account.saved" in client.section_messages("profile")
    user = await user_row(harness, ada.user_id)
    assert user.payload == {
        "email": ada.email,
        "first_name": "Augusta",
        "customer_no": "C-7",
        "terms": True,
        "age": 36,
        "newsletter": True,
    }
    assert user.metadata_ == {"roles": ["vip"]}
    # Leaving an optional field empty removes it; an unchecked box is False.
    await client.post("profile", first_name="Augusta")
    user = await user_row(harness, ada.user_id)
    assert "age" not in user.payload and user.payload["newsletter"] is False


async def test_invalid_profile_values_by_field_and_nothing_stored(
    harness: Harness, ada: Person
) -> None:
    await use_schema(harness, PROFILE_SCHEMA)
    await set_payload(
        harness, ada.user_id, {"email": ada.email, "first_name": "Ada", "terms": True}
    )
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    page = await client.post("profile", first_name="x" * 21, age="twelve")
    assert page.status == 422
    assert page.field_errors("first_name") == ["form.too_long"]
    assert page.field_errors("age") == ["form.type"]
    assert f'value="{"x" * 21}"' in page.text and 'value="twelve"' in page.text  # kept
    page = await client.post("profile", first_name="", age="12")
    assert page.field_errors("first_name") == ["form.required"]
    assert page.field_errors("age") == ["form.minimum"]
    assert (await user_row(harness, ada.user_id)).payload["first_name"] == "Ada"


async def test_read_only_identifier_and_unknown_fields_are_refused(
    harness: Harness, ada: Person
) -> None:
    await use_schema(harness, PROFILE_SCHEMA)
    before = {"email": ada.email, "first_name": "Ada", "customer_no": "C-7", "terms": True}
    await set_payload(harness, ada.user_id, before, metadata_={"roles": ["user"]})
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    attempts = [
        {"customer_no": "C-1"},
        {"email": "mallory@example.com"},
        {"terms": "false"},
        {"roles": "admin"},
        {"metadata": '{"roles": ["admin"]}'},
    ]
    for extra in attempts:
        page = await client.post("profile", first_name="Eve", **extra)
        assert page.status == 422, extra
        [name] = extra
        expected = (
            "form.unknown_field" if name in ("roles", "metadata") else "account.field_readonly"
        )
        assert expected in client.section_messages("profile"), extra
    user = await user_row(harness, ada.user_id)
    assert user.payload == before and user.metadata_ == {"roles": ["user"]}


async def test_x_readonly_must_be_a_boolean() -> None:
    from widget_server.forms import check_schema

    broken = {**PROFILE_SCHEMA, "properties": dict(PROFILE_SCHEMA["properties"])}
    broken["properties"]["customer_no"] = {"type": "string", "x-readonly": "yes"}
    with pytest.raises(ValueError, match="x-readonly"):
        check_schema(broken)
    check_schema(PROFILE_SCHEMA)


# --- password ----------------------------------------------------------------------------------


async def test_password_change_checks_current_policy_and_history(
    harness: Harness, ada: Person
) -> None:
    async with harness.web.services.db.write() as db:
        policy = {"min_length": 12, "history": 3}
        await db.execute(
            update(Pool).where(Pool.id == "partner-1").values(password_policy=policy, version=5)
        )
    harness.web.services.pools.forget("partner-1")
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    page = await client.post("password", current_password="wrong one!", new_password="short")
    assert page.status == 422
    assert page.field_errors("current_password") == ["account.password_incorrect"]
    assert page.field_errors("new_password") == ["password.too_short"]
    assert "wrong one!" not in page.text  # never echoed
    # The history holds what the user had; the admin set-password path keeps it too.
    page = await client.post(
        "password", current_password=ada.password, new_password="a fresh long passphrase"
    )
    assert page.status == 200 and "account.password_changed" in client.section_messages("password")
    page = await client.post(
        "password",
        current_password="a fresh long passphrase",
        new_password="a fresh long passphrase",
    )
    assert page.field_errors("new_password") == ["password.history"]


async def test_password_change_ends_other_sessions_and_rotates_this_one(
    harness: Harness, ada: Person
) -> None:
    services = harness.web.services
    elsewhere = LoginClient(harness)
    await elsewhere.log_in(ada.email, ada.password)
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    old_token = client.login.token
    old = await sessions.current_session(services, old_token, "partner-1")
    assert old is not None
    page = await client.post(
        "password", current_password=ada.password, new_password="another good passphrase"
    )
    assert client.last is not None and client.last.status_code == 303
    assert (
        "set-cookie" in client.last.headers and "Partitioned" in client.last.headers["set-cookie"]
    )
    assert page.status == 200 and page.state == "account"  # the new cookie opens the page
    assert client.login.token != old_token
    assert await sessions.current_session(services, old_token, "partner-1") is None
    assert await sessions.current_session(services, elsewhere.token, "partner-1") is None
    new = await sessions.current_session(services, client.login.token, "partner-1")
    assert new is not None and new.id != old.id and new.amr == old.amr
    await deliver_all(harness)
    [notice] = [e for e in harness.sender.sent if e.recipient == ada.email]
    assert notice.subject == "Your Partner 1 password was changed"
    assert "another good passphrase" not in notice.body_text
    # The new password signs in; the old one does not.
    assert (await LoginClient(harness).log_in(ada.email, "another good passphrase")).state == "done"
    assert (await LoginClient(harness).log_in(ada.email, ada.password)).state == "form"


async def test_guessing_the_current_password_is_throttled(
    harness: Harness, account: AccountClient
) -> None:
    statuses = []
    for attempt in range(7):
        page = await account.post(
            "password", current_password=f"guess {attempt}", new_password="a long new passphrase"
        )
        statuses.append(page.status)
    assert statuses[:5] == [422] * 5 and 429 in statuses[5:]
    assert account.last is not None and "retry-after" in account.last.headers


# --- addresses ----------------------------------------------------------------------------------


async def test_a_second_address_is_added_by_code_and_signs_in(
    harness: Harness, account: AccountClient, ada: Person
) -> None:
    await account.post("addresses", address="Ada.Work@Example.org")
    assert "account.address_code_sent" in account.section_messages("addresses")
    assert await rows(harness, Address) and len(await rows(harness, Address)) == 1  # not yet
    await deliver_all(harness)
    [code] = harness.codes_for("ada.work@example.org")
    page = await account.post("addresses/verify", code="000000" if code != "000000" else "111111")
    assert page.status == 422 and page.field_errors("code") == ["code.invalid"]
    page = await account.post("addresses/verify", code=code)
    assert page.status == 200 and "account.address_verified" in account.section_messages(
        "addresses"
    )
    found = {(a.value, a.status) for a in await rows(harness, Address)}
    assert ("ada.work@example.org", "verified") in found
    # The code is single use.
    page = await account.post("addresses/verify", code=code)
    assert page.status == 400
    assert "account.no_pending_address" in account.section_messages("addresses")
    assert (await LoginClient(harness).log_in("ada.work@example.org", ada.password)).state == "done"


async def test_removing_addresses(harness: Harness, account: AccountClient, ada: Person) -> None:
    page = await account.post("addresses", address="second@example.org")
    await deliver_all(harness)
    await account.post("addresses/verify", code=harness.codes_for("second@example.org")[0])
    by_value = {a.value: a.id for a in await rows(harness, Address)}
    page = await account.post("addresses/remove", address_id=by_value[ada.email])
    assert page.status == 400 and "account.address_primary" in account.section_messages("addresses")
    bob = await make_user(harness, "bob@example.com")
    bobs = next(a.id for a in await rows(harness, Address) if a.user_id == bob.user_id)
    page = await account.post("addresses/remove", address_id=bobs)
    assert "account.address_unknown" in account.section_messages("addresses")
    page = await account.post("addresses/remove", address_id=by_value["second@example.org"])
    assert "account.address_removed" in account.section_messages("addresses")
    assert {a.value for a in await rows(harness, Address)} == {ada.email, "bob@example.com"}


async def test_someone_elses_address_looks_the_same_and_can_never_be_verified(
    harness: Harness, account: AccountClient
) -> None:
    bob = await make_user(harness, "bob@example.com")
    free = AccountClient(harness)
    carol = await make_user(harness, "carol@example.com")
    await free.sign_in(carol.email, carol.password)
    taken_page = await account.post("addresses", address="bob@example.com")
    free_page = await free.post("addresses", address="nobody@example.org")
    assert taken_page.status == free_page.status == 200
    assert account.section_messages("addresses") == free.section_messages("addresses")
    await deliver_all(harness)
    notice = [e for e in harness.sender.sent if e.recipient == "bob@example.com"]
    assert len(notice) == 1 and "another Partner 1 account" in notice[0].subject
    assert not harness.codes_for("bob@example.com")
    # Every guess fails the same way; the address stays Bob's.
    for guess in ("123456", "654321"):
        page = await account.post("addresses/verify", code=guess)
        assert page.field_errors("code") == ["code.invalid"]
    owners = {a.value: a.user_id for a in await rows(harness, Address)}
    assert owners["bob@example.com"] == bob.user_id and len(owners) == 3


async def test_codes_of_other_purposes_never_verify_an_address(
    harness: Harness, account: AccountClient, ada: Person
) -> None:
    await account.post("addresses", address="new@example.org")
    [flow] = [f for f in await rows(harness, Flow) if f.kind == "address"]
    key = harness.settings.secret_key
    now = harness.clock.now()
    async with harness.web.services.db.write() as db:
        for purpose, code in (("activation", "111111"), ("recovery", "222222"), ("mfa", "333333")):
            await db.execute(
                insert(Code).values(
                    id=secrets_.new_id(), flow_id=flow.id, user_id=ada.user_id, purpose=purpose,
                    code_hash=secrets_.keyed_hash(key, purpose, flow.id, code),
                    expires_at=now + timedelta(minutes=10), attempts=0, max_attempts=5,
                    sent_at=now + timedelta(seconds=1), used_at=None,
                )
            )  # fmt: skip
    for code in ("111111", "222222", "333333"):
        page = await account.post("addresses/verify", code=code)
        assert page.field_errors("code") == ["code.invalid"], code
    await deliver_all(harness)
    page = await account.post("addresses/verify", code=harness.codes_for("new@example.org")[0])
    assert "account.address_verified" in account.section_messages("addresses")


async def test_address_input_is_checked(harness: Harness, account: AccountClient) -> None:
    cases = {
        "": "form.required",
        "not an email": "form.email_invalid",
        "+49 151 23456789": "account.phone_unavailable",
        "ada@example.com": "account.address_exists",
    }
    for typed, expected in cases.items():
        page = await account.post("addresses", address=typed)
        assert page.status == 422 and page.field_errors("address") == [expected], typed
    page = await account.post("addresses", address="one@example.org")
    page = await account.post("addresses", address="two@example.org")
    assert page.status == 429 and "code.resend_cooldown" in account.section_messages("addresses")
    harness.clock.advance(61)
    page = await account.post("addresses", address="two@example.org")
    assert page.status == 200
    [pending] = [f for f in await rows(harness, Flow) if f.kind == "address"]
    assert pending.address == "two@example.org"


# --- sessions ----------------------------------------------------------------------------------


async def test_sessions_are_listed_and_ended(harness: Harness, ada: Person) -> None:
    phone = LoginClient(harness)
    phone_agent = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/130.0 Mobile"
    harness.client.headers["user-agent"] = phone_agent
    await phone.log_in(ada.email, ada.password)
    laptop = LoginClient(harness)
    await laptop.log_in(ada.email, ada.password)
    harness.client.headers["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
    client = AccountClient(harness)
    await client.sign_in(ada.email, ada.password)
    listed = client.section("sessions")
    assert listed.count("data-session=") == 3
    assert "Chrome on Android" in listed and "Firefox on Linux" in listed
    assert len(re.findall(r"data-current", listed)) == 1
    phone_session = await sessions.current_session(harness.web.services, phone.token, "partner-1")
    assert phone_session is not None
    page = await client.post("sessions/end", session_id=phone_session.id)
    assert "account.session_ended" in client.section_messages("sessions")
    assert await sessions.current_session(harness.web.services, phone.token, "partner-1") is None
    # Another user's session id is not ours to end.
    bob = await make_user(harness, "bob@example.com")
    bobs = LoginClient(harness)
    await bobs.log_in(bob.email, bob.password)
    bob_session = await sessions.current_session(harness.web.services, bobs.token, "partner-1")
    assert bob_session is not None
    page = await client.post("sessions/end", session_id=bob_session.id)
    assert page.status == 400 and "account.session_unknown" in client.section_messages("sessions")
    assert await sessions.current_session(harness.web.services, bobs.token, "partner-1")
    page = await client.post("sessions/end-others")
    assert "account.sessions_ended" in client.section_messages("sessions")
    assert await sessions.current_session(harness.web.services, laptop.token, "partner-1") is None
    assert client.section("sessions").count("data-session=") == 1
    live = [s for s in await rows(harness, Session) if s.revoked_at is None]
    assert {s.user_id for s in live} == {ada.user_id, bob.user_id} and len(live) == 2


async def test_logging_out_from_the_account_page(harness: Harness, account: AccountClient) -> None:
    assert account.page is not None
    match = re.search(
        r'action="/embed/partner-1/logout".*?name="csrf_token" value="([^"]+)"',
        account.page.text,
        re.S,
    )
    assert match is not None
    response = await harness.client.post(
        "/embed/partner-1/logout",
        data={"csrf_token": match.group(1), "parent_origin": PARTNER},
        headers=account.headers(),
    )
    assert response.status_code == 303
    assert (await account.open()).status == 401


async def test_htmx_posts_get_the_card_back_not_a_redirect(harness: Harness, ada: Person) -> None:
    client = AccountClient(harness, htmx=True)
    await client.sign_in(ada.email, ada.password)
    page = await client.post("addresses", address="second@example.org")
    assert client.last is not None and client.last.status_code == 200
    assert page.text.startswith('<main class="ws-card ws-card--account"')
    assert client.last.headers["vary"] == "HX-Request"
    assert "account.address_code_sent" in client.section_messages("addresses")


async def test_no_two_step_section_where_the_pool_offers_none(
    harness: Harness, account: AccountClient
) -> None:
    assert account.page is not None and 'data-section="mfa"' not in account.page.text
    page = await account.post("mfa/totp")
    assert page.status == 400 and "mfa.not_offered" in page.message_ids
    assert not await rows(harness, MfaFactor)
