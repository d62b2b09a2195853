"""The admin user service (admin/users.py) on SQLite and PostgreSQL: creating the three
ways, editing, status changes, deletion, resend, sessions, scope and roles, audit."""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.conftest import Harness, count, deliver_all, rows
from widget_server import secrets_
from widget_server.admin import users
from widget_server.admin.access import Actor, Principal, Role
from widget_server.errors import Conflict, Forbidden, InvalidInput, NotFound, ResendTooSoon
from widget_server.models import (
    Address,
    AuditEvent,
    Code,
    Credential,
    Flow,
    IdentitySchema,
    OutboxMessage,
    Pool,
    Session,
    Tenant,
    User,
)
from widget_server.services import Services
from widget_server.users.inputs import NewUser, UserPatch

PASSWORD = "Blue-Harbour-Kettle-42"


def actor(
    role: Role = "pool_admin", pool_id: str | None = "partner-1", tenant: str = "acme"
) -> Actor:
    principal = Principal(
        id=f"{role}-{pool_id or 'all'}",
        tenant_id=tenant,
        pool_id=None if role == "tenant_admin" else pool_id,
        role=role,
        kind="api_key",
        name=f"{role} of {pool_id}",
    )
    return Actor(principal=principal, ip="127.0.0.1")


def services(h: Harness) -> Services:
    return h.web.services


def errors_of(exc: InvalidInput) -> dict[str, list[str]]:
    return {k: [m.id for m in v] for k, v in exc.messages.items()}


async def create(h: Harness, email: str = "ann@example.com", pool: str = "partner-1", **kw: Any):
    return await users.create_user(
        services(h), actor(pool_id=pool), pool, NewUser(email=email, **kw)
    )


async def audit_rows(h: Harness, **where: Any) -> list[AuditEvent]:
    found = await rows(h, AuditEvent)
    return [e for e in found if all(getattr(e, k) == v for k, v in where.items())]


async def add_session(h: Harness, user_id: str, pool: str = "partner-1") -> None:
    now = h.clock.now()
    async with services(h).db.write() as session:
        session.add(
            Session(
                id=secrets_.new_id(),
                token_hash=secrets.token_hex(32),
                user_id=user_id,
                pool_id=pool,
                app_id=None,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=1),
                revoked_at=None,
                ip=None,
                user_agent=None,
            )
        )


# --- creating ---------------------------------------------------------------------------


async def test_active_with_password_is_verified_and_sends_nothing(
    harness: Harness, manual_outbox
) -> None:
    view = await create(harness, "Ann@Example.com", status="active", password=PASSWORD)
    assert (view.status, view.has_password, view.created_by) == (
        "active",
        True,
        "pool_admin-partner-1",
    )
    assert view.activated_at is not None
    [address] = view.addresses
    assert (address.value, address.status) == ("ann@example.com", "verified")
    assert view.payload == {"email": "Ann@example.com"}
    assert await count(harness, OutboxMessage) == 0
    [credential] = await rows(harness, Credential)
    assert credential.secret_hash.startswith("$argon2id$")
    [event] = await audit_rows(harness, action="user.create")
    assert (event.outcome, event.target_id, event.pool_id) == ("ok", view.id, "partner-1")
    text = repr(event.details)
    assert "ann" not in text.lower() and PASSWORD not in text


async def test_active_with_link_mails_a_one_time_link_and_stores_only_its_hash(
    harness: Harness, manual_outbox
) -> None:
    view = await create(harness, status="active", send_set_password_link=True)
    assert (view.status, view.has_password) == ("active", False)
    assert view.addresses[0].status == "verified"
    [mail] = await rows(harness, OutboxMessage)
    link = re.search(r"(http://\S+/set-password/(\S+)\?token=(\S+))", mail.body_text)
    assert link is not None
    flow_id, token = link.group(2), link.group(3)
    [flow] = await rows(harness, Flow)
    assert (flow.id, flow.kind, flow.state, flow.user_id) == (
        flow_id,
        "set_password",
        "password",
        view.id,
    )
    assert flow.expires_at - harness.clock.now() == timedelta(hours=72)
    [code] = await rows(harness, Code)
    assert code.purpose == "set_password" and token not in code.code_hash


async def test_new_sends_an_invitation_with_code_and_link(harness: Harness, manual_outbox) -> None:
    view = await create(harness, status="new")
    assert (view.status, view.has_password, view.activated_at) == ("new", False, None)
    assert view.addresses[0].status == "unverified"
    [mail] = await rows(harness, OutboxMessage)
    [flow] = await rows(harness, Flow)
    assert f"http://localhost:8000/embed/partner-1/activate/{flow.id}" in mail.body_text
    assert re.match(r"\d{6} ", mail.subject)
    [code] = await rows(harness, Code)
    assert (code.purpose, code.user_id, code.max_attempts) == ("activation", view.id, 5)
    assert code.expires_at == flow.expires_at == harness.clock.now() + timedelta(hours=72)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "active"},
        {"status": "active", "password": PASSWORD, "send_set_password_link": True},
    ],
)
async def test_active_needs_exactly_one_of_password_or_link(harness: Harness, fields) -> None:
    with pytest.raises(InvalidInput) as caught:
        await create(harness, **fields)
    assert errors_of(caught.value) == {"password": ["admin.password_or_link"]}
    assert await count(harness, User) == 0


async def test_weak_password_and_bad_payload_are_reported_together(harness: Harness) -> None:
    with pytest.raises(InvalidInput) as caught:
        await users.create_user(
            services(harness),
            actor(pool_id="business-1"),
            "business-1",
            NewUser(
                email="bo@example.com",
                password="short",
                payload={"first_name": "Bo", "color": "red"},
            ),
        )
    found = errors_of(caught.value)
    assert "password.too_short" in found["password"]
    assert found["payload.color"] == ["form.unknown_field"]
    assert (await count(harness, User), await count(harness, Address)) == (0, 0)


async def test_business_payload_is_validated_by_the_pool_schema(harness: Harness) -> None:
    with pytest.raises(InvalidInput) as caught:
        await users.create_user(
            services(harness),
            actor(pool_id="business-1"),
            "business-1",
            NewUser(email="bo@example.com", payload={"first_name": "Bo", "country": "Atlantis"}),
        )
    found = errors_of(caught.value)
    assert found["payload.last_name"] == ["form.required"]
    assert found["payload.country"] == ["form.enum"]


async def test_email_is_validated_and_not_accepted_inside_payload(harness: Harness) -> None:
    with pytest.raises(InvalidInput) as caught:
        await create(harness, "not-an-address")
    assert errors_of(caught.value) == {"email": ["form.email_invalid"]}
    with pytest.raises(InvalidInput) as caught:
        await create(harness, payload={"email": "x@example.com"})
    assert errors_of(caught.value) == {"payload.email": ["admin.identifier_in_payload"]}


async def test_email_domains_of_the_pool_are_enforced(harness: Harness) -> None:
    async with services(harness).db.write() as session:
        await session.execute(
            update(Pool).where(Pool.id == "employees").values(email_domains=["acme.example"])
        )
    services(harness).pools.forget("employees")
    staff = actor(pool_id="employees")
    new = NewUser(email="eve@evil.example", payload={"first_name": "E", "last_name": "V"})
    with pytest.raises(InvalidInput) as caught:
        await users.create_user(services(harness), staff, "employees", new)
    assert errors_of(caught.value) == {"email": ["admin.email_domain"]}
    assert caught.value.messages["email"][0].params == {"domains": "@acme.example"}
    ok = NewUser(email="Tom@ACME.example", payload={"first_name": "T", "last_name": "O"})
    view = await users.create_user(services(harness), staff, "employees", ok)
    assert view.addresses[0].value == "tom@acme.example"


async def test_duplicate_address_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    first = await create(harness, "dup@example.com")
    with pytest.raises(InvalidInput) as caught:
        await create(harness, "DUP@example.com", status="active", password=PASSWORD)
    assert errors_of(caught.value) == {"email": ["admin.address_taken"]}
    [user] = await rows(harness, User)
    assert user.id == first.id
    assert await count(harness, Credential) == 0
    assert len(await audit_rows(harness, action="user.create")) == 1


async def test_parallel_duplicate_creates_end_with_one_user(harness: Harness) -> None:
    results = await asyncio.gather(
        *(create(harness, "race@example.com") for _ in range(10)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, InvalidInput)]
    assert (len(made), len(refused)) == (1, 9)
    assert (await count(harness, User), await count(harness, Address)) == (1, 1)
    assert await count(harness, Flow) == 1


async def test_metadata_follows_the_pool_metadata_schema(harness: Harness) -> None:
    schema = {
        "type": "object",
        "properties": {"roles": {"type": "array", "items": {"enum": ["lead", "member"]}}},
        "additionalProperties": False,
    }
    now = harness.clock.now()
    async with services(harness).db.write() as session:
        session.add(
            IdentitySchema(
                id="team-meta",
                tenant_id="acme",
                name="Team",
                kind="metadata",
                body=schema,
                builtin=False,
                created_at=now,
            )
        )
        await session.flush()
        await session.execute(
            update(Pool).where(Pool.id == "partner-1").values(metadata_schema_id="team-meta")
        )
    services(harness).pools.forget("partner-1")
    with pytest.raises(InvalidInput) as caught:
        await create(harness, metadata={"roles": ["boss"], "x": 1})
    # Unknown fields are refused before the schema is applied to the rest.
    assert errors_of(caught.value) == {"metadata.x": ["form.unknown_field"]}
    with pytest.raises(InvalidInput) as caught:
        await create(harness, metadata={"roles": ["boss"]})
    assert errors_of(caught.value) == {"metadata.roles": ["form.enum"]}
    view = await create(harness, metadata={"roles": ["lead"]})
    assert view.metadata == {"roles": ["lead"]}


async def test_without_metadata_schema_metadata_is_free_but_bounded(harness: Harness) -> None:
    view = await create(harness, metadata={"customer_no": "C-1", "groups": ["a"]})
    assert view.metadata == {"customer_no": "C-1", "groups": ["a"]}
    with pytest.raises(InvalidInput) as caught:
        await create(harness, "big@example.com", metadata={"blob": "x" * 20000})
    assert errors_of(caught.value) == {"metadata": ["admin.too_large"]}


# --- listing and reading -----------------------------------------------------------------


async def business_user(h: Harness, email: str, company: str, **kw: Any):
    payload = {
        "first_name": "B",
        "last_name": "Z",
        "date_of_birth": "1990-01-01",
        "company": company,
        "job_title": "CTO",
        "country": "DE",
        "terms": True,
    }
    return await users.create_user(
        services(h),
        actor(pool_id="business-1"),
        "business-1",
        NewUser(email=email, payload=payload, **kw),
    )


async def test_list_searches_by_address_status_and_payload_field(harness: Harness) -> None:
    a = await business_user(harness, "anna@alpha.example", "Alpha")
    b = await business_user(harness, "ben@beta.example", "Beta", status="active", password=PASSWORD)
    harness.clock.advance(1)
    c = await business_user(harness, "cleo@alpha.example", "Beta")
    svc, viewer = services(harness), actor("pool_viewer", "business-1")

    async def ids(**kw: Any) -> list[str]:
        page = await users.list_users(svc, viewer, "business-1", **kw)
        return [u.id for u in page.items]

    assert set(await ids()) == {a.id, b.id, c.id}
    assert (await ids())[0] == c.id  # newest first
    assert set(await ids(q="ALPHA.example")) == {a.id, c.id}
    assert await ids(q="%") == []  # LIKE wildcards are literal
    assert await ids(status="active") == [b.id]
    assert set(await ids(field="company", value="Beta")) == {b.id, c.id}
    page = await users.list_users(svc, viewer, "business-1", limit=1, offset=1)
    assert (page.total, page.limit, page.offset, len(page.items)) == (3, 1, 1, 1)


async def test_list_refuses_bad_parameters(harness: Harness) -> None:
    svc, me = services(harness), actor()
    for kwargs, field in (
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "banned"}, "status"),
        ({"field": "no_such_field", "value": "x"}, "field"),
        ({"field": "email"}, "value"),
    ):
        with pytest.raises(InvalidInput) as caught:
            await users.list_users(svc, me, "partner-1", **kwargs)
        assert field in caught.value.messages, kwargs


async def test_deleted_users_are_listed_only_on_request(harness: Harness) -> None:
    gone = await create(harness, "gone@example.com")
    kept = await create(harness, "kept@example.com")
    await users.delete_user(services(harness), actor(), "partner-1", gone.id)
    listed = await users.list_users(services(harness), actor(), "partner-1")
    assert [u.id for u in listed.items] == [kept.id]
    deleted = await users.list_users(services(harness), actor(), "partner-1", status="deleted")
    assert [u.id for u in deleted.items] == [gone.id]
    assert deleted.items[0].addresses == [] and deleted.items[0].payload == {}


# --- editing ------------------------------------------------------------------------------


async def test_update_merges_payload_and_metadata_and_audits_field_names(harness: Harness) -> None:
    view = await business_user(harness, "ed@example.com", "Alpha")
    svc, me = services(harness), actor(pool_id="business-1")
    patch = UserPatch(payload={"company": "Gamma", "newsletter": None}, metadata={"groups": ["x"]})
    updated = await users.update_user(svc, me, "business-1", view.id, patch)
    assert updated.payload["company"] == "Gamma" and updated.payload["email"] == "ed@example.com"
    assert updated.metadata == {"groups": ["x"]}
    [event] = await audit_rows(harness, action="user.update")
    assert event.details == {"fields": ["payload.company", "metadata.groups"]}
    assert "Gamma" not in repr(event.details)


async def test_update_refuses_identifier_unknown_fields_and_invalid_documents(
    harness: Harness,
) -> None:
    view = await business_user(harness, "ed@example.com", "Alpha")
    svc, me = services(harness), actor(pool_id="business-1")
    bad = UserPatch(payload={"email": "other@example.com", "shoe_size": 44, "last_name": None})
    with pytest.raises(InvalidInput) as caught:
        await users.update_user(svc, me, "business-1", view.id, bad)
    found = errors_of(caught.value)
    assert found["payload.email"] == ["admin.identifier_readonly"]
    assert found["payload.shoe_size"] == ["form.unknown_field"]
    with pytest.raises(InvalidInput) as caught:
        await users.update_user(
            svc, me, "business-1", view.id, UserPatch(payload={"last_name": None})
        )
    assert errors_of(caught.value) == {"payload.last_name": ["form.required"]}
    unchanged = await users.get_user(svc, me, "business-1", view.id)
    assert unchanged.payload == view.payload
    assert await audit_rows(harness, action="user.update") == []


async def test_deleted_user_cannot_be_updated(harness: Harness) -> None:
    view = await create(harness)
    await users.delete_user(services(harness), actor(), "partner-1", view.id)
    with pytest.raises(Conflict) as caught:
        await users.update_user(
            services(harness), actor(), "partner-1", view.id, UserPatch(metadata={"a": 1})
        )
    assert caught.value.message_id == "admin.status_transition"


# --- status -------------------------------------------------------------------------------


async def user_in(h: Harness, status: str) -> str:
    view = await create(h, f"{status}@example.com", status="active", password=PASSWORD)
    if status == "new":
        view = await create(h, "new2@example.com")
    elif status == "inactive":
        await users.change_status(services(h), actor(), "partner-1", view.id, "deactivate")
    elif status == "deleted":
        await users.delete_user(services(h), actor(), "partner-1", view.id)
    return view.id


@pytest.mark.parametrize("status", ["new", "active", "inactive", "deleted"])
@pytest.mark.parametrize("action", ["activate", "deactivate", "reactivate"])
async def test_status_changes_follow_the_table(harness: Harness, status: str, action: str) -> None:
    user_id = await user_in(harness, status)
    legal = {
        ("new", "activate"): "active",
        ("active", "deactivate"): "inactive",
        ("inactive", "reactivate"): "active",
    }
    svc, me = services(harness), actor()
    if (status, action) in legal:
        view = await users.change_status(svc, me, "partner-1", user_id, action)  # type: ignore[arg-type]
        assert view.status == legal[(status, action)]
        [event] = await audit_rows(harness, action=f"user.{action}", target_id=user_id)
        assert event.details | {"sent": "set_password_link"} == {
            "from": status,
            "to": view.status,
            "sent": "set_password_link",
        }
    else:
        with pytest.raises(Conflict) as caught:
            await users.change_status(svc, me, "partner-1", user_id, action)  # type: ignore[arg-type]
        assert caught.value.message_id == "admin.status_transition"
        assert caught.value.params["status"] == status
        assert (await users.get_user(svc, me, "partner-1", user_id)).status == status


async def test_deleting_twice_is_a_conflict(harness: Harness) -> None:
    user_id = await user_in(harness, "deleted")
    with pytest.raises(Conflict):
        await users.delete_user(services(harness), actor(), "partner-1", user_id)


async def test_deactivation_revokes_sessions(harness: Harness) -> None:
    user_id = await user_in(harness, "active")
    await add_session(harness, user_id)
    await add_session(harness, user_id)
    await users.change_status(services(harness), actor(), "partner-1", user_id, "deactivate")
    assert all(s.revoked_at is not None for s in await rows(harness, Session))
    assert len(await rows(harness, Session)) == 2


async def test_admin_activation_verifies_the_address_and_ends_the_invitation(
    harness: Harness, manual_outbox
) -> None:
    view = await create(harness)
    [invitation] = await rows(harness, Flow)
    svc = services(harness)
    activated = await users.change_status(svc, actor(), "partner-1", view.id, "activate")
    assert activated.status == "active" and activated.activated_at is not None
    assert activated.addresses[0].status == "verified"
    # The invitation is gone; without a password the user gets a set-password link.
    [flow] = await rows(harness, Flow)
    assert flow.id != invitation.id and flow.kind == "set_password"
    [event] = await audit_rows(harness, action="user.activate")
    assert event.details == {"from": "new", "to": "active", "sent": "set_password_link"}
    mails = await rows(harness, OutboxMessage)
    assert [m.subject.startswith("Choose your password") for m in mails] == [False, True]


async def test_admin_activation_with_a_password_sends_nothing_more(
    harness: Harness, manual_outbox
) -> None:
    view = await create(harness, password=PASSWORD)
    await users.change_status(services(harness), actor(), "partner-1", view.id, "activate")
    assert await rows(harness, Flow) == []
    assert await count(harness, OutboxMessage) == 1  # the invitation only


async def test_revoke_sessions_counts_live_ones(harness: Harness) -> None:
    user_id = await user_in(harness, "active")
    await add_session(harness, user_id)
    await add_session(harness, user_id)
    svc, me = services(harness), actor()
    assert await users.revoke_sessions(svc, me, "partner-1", user_id) == 2
    assert await users.revoke_sessions(svc, me, "partner-1", user_id) == 0
    events = await audit_rows(harness, action="user.revoke_sessions")
    assert [e.details for e in events] == [{"count": 2}, {"count": 0}]


# --- deleting -----------------------------------------------------------------------------


async def test_delete_erases_personal_data_and_keeps_the_trail(
    harness: Harness, manual_outbox
) -> None:
    view = await create(harness, "erase@example.com", metadata={"customer_no": "C-9"})
    await add_session(harness, view.id)
    assert await count(harness, OutboxMessage) == 1  # the invitation, not sent yet
    await users.delete_user(services(harness), actor(), "partner-1", view.id)
    async with services(harness).db.read() as session:
        gone = await session.get(User, view.id)
    assert gone is not None
    assert (gone.status, gone.payload, gone.metadata_) == ("deleted", {}, {})
    assert gone.deleted_at == harness.clock.now()
    for model in (Address, Credential, Flow, Code, Session, OutboxMessage):
        assert await count(harness, model) == 0, model
    events = await audit_rows(harness, target_id=view.id)
    assert [e.action for e in events] == ["user.create", "user.delete"]
    assert "erase" not in repr([e.details for e in events])


async def test_delete_frees_the_address_for_self_registration(harness: Harness, widget) -> None:
    view = await create(harness, "again@example.com", status="active", password=PASSWORD)
    await users.delete_user(services(harness), actor(), "partner-1", view.id)
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="again@example.com", password=PASSWORD)
    assert page.state == "code"
    await deliver_all(harness)
    [code] = harness.codes_for("again@example.com")
    page = await w.code(code)
    assert page.state == "done"
    async with services(harness).db.read() as session:
        owner = (
            await session.execute(
                select(Address.user_id).where(Address.value == "again@example.com")
            )
        ).scalar_one()
    assert owner != view.id


# --- resend -------------------------------------------------------------------------------


async def test_resend_respects_the_cooldown_and_only_for_new_users(
    harness: Harness, manual_outbox
) -> None:
    view = await create(harness)
    svc, me = services(harness), actor()
    with pytest.raises(ResendTooSoon) as caught:
        await users.resend_activation(svc, me, "partner-1", view.id)
    assert caught.value.retry_after == 61
    harness.clock.advance(61)
    await users.resend_activation(svc, me, "partner-1", view.id)
    assert await count(harness, OutboxMessage) == 2
    [flow] = await rows(harness, Flow)  # the old invitation is gone
    assert flow.created_at == harness.clock.now()
    active = await user_in(harness, "active")
    with pytest.raises(Conflict) as conflict:
        await users.resend_activation(svc, me, "partner-1", active)
    assert conflict.value.message_id == "admin.not_pending"


# --- scope and roles ------------------------------------------------------------------------


async def other_tenant_pool(h: Harness) -> str:
    now = h.clock.now()
    async with services(h).db.write() as session:
        session.add(Tenant(id="globex", name="Globex", theme={}, created_at=now))
        await session.flush()
        session.add(
            Pool(
                id="globex-staff",
                tenant_id="globex",
                name="Globex staff",
                payload_schema_id="consumer-basic",
                metadata_schema_id=None,
                password_policy={},
                activation_methods=["email"],
                self_registration=True,
                allowed_origins=[],
                theme={},
                email_domains=[],
                session_lifetime_seconds=86400,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    return "globex-staff"


async def test_pool_admin_sees_nothing_of_other_pools_and_each_probe_is_audited(
    harness: Harness,
) -> None:
    svc = services(harness)
    theirs = await users.create_user(
        svc, actor(pool_id="partner-2"), "partner-2", NewUser(email="x@example.com")
    )
    foreign_pool = await other_tenant_pool(harness)
    mine = actor(pool_id="partner-1")
    probes = [
        lambda: users.list_users(svc, mine, "partner-2"),
        lambda: users.list_users(svc, mine, foreign_pool),
        lambda: users.get_user(svc, mine, "partner-2", theirs.id),
        lambda: users.get_user(svc, mine, "partner-1", theirs.id),  # right pool, foreign id
        lambda: users.update_user(svc, mine, "partner-1", theirs.id, UserPatch(metadata={"a": 1})),
        lambda: users.change_status(svc, mine, "partner-1", theirs.id, "activate"),
        lambda: users.delete_user(svc, mine, "partner-1", theirs.id),
        lambda: users.resend_activation(svc, mine, "partner-1", theirs.id),
        lambda: users.revoke_sessions(svc, mine, "partner-1", theirs.id),
        lambda: users.create_user(svc, mine, "partner-2", NewUser(email="y@example.com")),
        lambda: users.get_user(svc, mine, "partner-1", "no-such-user"),
    ]
    for probe in probes:
        with pytest.raises(NotFound):
            await probe()
    denied = await audit_rows(harness, outcome="denied", actor_id=mine.principal.id)
    assert len(denied) == len(probes)
    assert {e.target_id for e in denied} >= {theirs.id, "no-such-user"}
    async with svc.db.read() as session:
        still = await session.get(User, theirs.id)
    assert still is not None and still.status == "new" and still.metadata_ == {}
    assert await count(harness, User) == 1


async def test_tenant_admin_of_another_tenant_gets_not_found(harness: Harness) -> None:
    stranger = actor("tenant_admin", None, tenant="globex")
    with pytest.raises(NotFound):
        await users.list_users(services(harness), stranger, "partner-1")


async def test_pool_viewer_reads_but_cannot_write(harness: Harness) -> None:
    view = await create(harness)
    svc, viewer = services(harness), actor("pool_viewer")
    assert (await users.get_user(svc, viewer, "partner-1", view.id)).id == view.id
    writes = [
        lambda: users.create_user(svc, viewer, "partner-1", NewUser(email="v@example.com")),
        lambda: users.update_user(svc, viewer, "partner-1", view.id, UserPatch(metadata={"a": 1})),
        lambda: users.change_status(svc, viewer, "partner-1", view.id, "activate"),
        lambda: users.delete_user(svc, viewer, "partner-1", view.id),
        lambda: users.resend_activation(svc, viewer, "partner-1", view.id),
        lambda: users.revoke_sessions(svc, viewer, "partner-1", view.id),
    ]
    for write in writes:
        with pytest.raises(Forbidden):
            await write()
    assert len(await audit_rows(harness, outcome="denied")) == len(writes)
    assert (await users.get_user(svc, viewer, "partner-1", view.id)).status == "new"


# --- schema changes -------------------------------------------------------------------------


async def test_count_invalid_users_against_a_new_schema(harness: Harness) -> None:
    for n in range(3):
        await create(harness, f"u{n}@example.com")
    await users.delete_user(
        services(harness), actor(), "partner-1", (await create(harness, "d@example.com")).id
    )
    stricter = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email", "x-identifier": True},
            "name": {"type": "string"},
        },
        "required": ["email", "name"],
    }
    assert await users.count_invalid_users(services(harness), "partner-1", stricter) == 3
    same = {"type": "object", "properties": {"email": {"type": "string"}}, "required": ["email"]}
    assert await users.count_invalid_users(services(harness), "partner-1", same) == 0


async def test_phone_fields_are_stored_in_e164_like_the_widget_does(harness: Harness) -> None:
    schema = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email", "x-identifier": True},
            "phone": {"type": "string", "format": "tel", "x-default-region": "DE"},
        },
        "required": ["email"],
        "additionalProperties": False,
    }
    now = harness.clock.now()
    async with services(harness).db.write() as session:
        session.add(
            IdentitySchema(
                id="with-phone",
                tenant_id="acme",
                name="Phone",
                kind="payload",
                body=schema,
                builtin=False,
                created_at=now,
            )
        )
        await session.flush()
        await session.execute(
            update(Pool).where(Pool.id == "partner-2").values(payload_schema_id="with-phone")
        )
    services(harness).pools.forget("partner-2")
    me = actor(pool_id="partner-2")
    view = await users.create_user(
        services(harness),
        me,
        "partner-2",
        NewUser(email="p@example.com", payload={"phone": "0151 2345 6789"}),
    )
    assert view.payload["phone"] == "+4915123456789"
    with pytest.raises(InvalidInput) as caught:
        await users.update_user(
            services(harness), me, "partner-2", view.id, UserPatch(payload={"phone": "12"})
        )
    assert errors_of(caught.value) == {"payload.phone": ["phone.invalid"]}


async def test_removing_the_last_metadata_key_leaves_an_empty_document(harness: Harness) -> None:
    view = await create(harness, metadata={"customer_no": "C-1"})
    patch = UserPatch(metadata={"customer_no": None})
    updated = await users.update_user(services(harness), actor(), "partner-1", view.id, patch)
    assert updated.metadata == {}
    [event] = await audit_rows(harness, action="user.update")
    assert event.details == {"fields": ["metadata.customer_no"]}
