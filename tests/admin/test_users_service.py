"""The admin user service (admin/users.py) on SQLite and PostgreSQL: creating the three
ways, editing, status changes, deletion, resend, sessions, scope and roles, audit."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from tests.conftest import Harness, count, rows
from widget_server.admin import users
from widget_server.admin.access import Actor, Principal, Role
from widget_server.errors import InvalidInput
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
    User,
)
from widget_server.services import Services
from widget_server.users.inputs import NewUser

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
                id=f"s-{user_id[:8]}-{now.timestamp()}-{len(await rows(h, Session))}",
                token_hash=re.sub(r"\W", "", f"{user_id}{now.timestamp()}{id(object())}")[:64],
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
