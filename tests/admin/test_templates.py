"""Sector templates: schemas pass every check and draw as the intended steps, policies load,
sample payloads validate (or fail on the right field); built-in schemas are stored
idempotently (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select

from widget_server.admin.templates import (
    BUILTIN_METADATA,
    METADATA_SCHEMA,
    TEMPLATES,
    SectorTemplate,
    builtin_schemas,
    ensure_builtin_schemas,
)
from widget_server.clock import ManualClock
from widget_server.db import Database
from widget_server.errors import InvalidInput
from widget_server.forms import (
    TEMPLATE_GLOBALS,
    check_schema,
    nodes_for_step,
    read_step,
    steps_of,
    validate_payload,
)
from widget_server.forms.safety import check_custom_schema
from widget_server.models import Base, IdentitySchema, Tenant
from widget_server.passwords.policy import PolicyConfig, policy_from_config

WIDGETS = Path(__file__).resolve().parents[2] / "widgets"

EXPECTED_STEPS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "ecommerce": [("account", ("email", "display_name"))],
    "banking": [
        ("account", ("email",)),
        ("person", ("given_name", "family_name", "date_of_birth", "nationality", "phone")),
        ("address", ("street", "postal_code", "city", "country")),
        ("consents", ("terms", "privacy", "marketing")),
    ],
    "b2b-employees": [
        ("account", ("email", "given_name", "family_name")),
        ("work", ("department", "job_title")),
    ],
}

VALID: dict[str, dict[str, Any]] = {
    "ecommerce": {"email": "ann@example.com"},
    "banking": {
        "email": "anna.schmidt@example.com",
        "given_name": "Anna",
        "family_name": "Schmidt",
        "date_of_birth": "1990-04-01",
        "nationality": "DE",
        "phone": "+4915123456789",
        "street": "Hauptstraße 1",
        "postal_code": "10115",
        "city": "Berlin",
        "country": "DE",
        "terms": True,
        "privacy": True,
        "marketing": False,
    },
    "b2b-employees": {
        "email": "jane.doe@company.com",
        "given_name": "Jane",
        "family_name": "Doe",
        "department": "Purchasing",
        "job_title": "Buyer",
    },
}

# (change to the valid payload, field that must fail, message id)
INVALID: dict[str, tuple[dict[str, Any], str, str]] = {
    "ecommerce": ({"email": "not-an-address"}, "email", "form.email_invalid"),
    "banking": ({"postal_code": "<b>1</b>"}, "postal_code", "form.pattern"),
    "b2b-employees": ({"given_name": ""}, "given_name", "form.too_short"),
}

template_ids = pytest.mark.parametrize("template_id", sorted(TEMPLATES))


def test_the_three_sectors_exist() -> None:
    assert set(TEMPLATES) == {"ecommerce", "banking", "b2b-employees"}
    assert all(t.id == key for key, t in TEMPLATES.items())


@template_ids
def test_schemas_pass_every_check(template_id: str) -> None:
    template = TEMPLATES[template_id]
    check_schema(template.payload_schema)
    check_custom_schema(template.payload_schema, "payload")
    if template.metadata_schema is not None:
        check_custom_schema(template.metadata_schema, "metadata")


@template_ids
def test_steps_are_as_intended(template_id: str) -> None:
    steps = steps_of(TEMPLATES[template_id].payload_schema)
    assert [(s.id, s.fields) for s in steps] == EXPECTED_STEPS[template_id]
    assert all(s.title for s in steps)


@template_ids
def test_every_step_draws_as_a_widget_form(template_id: str) -> None:
    schema = TEMPLATES[template_id].payload_schema
    env = Environment(loader=FileSystemLoader(WIDGETS), autoescape=True)
    env.globals.update(TEMPLATE_GLOBALS)
    env.globals["t"] = lambda m: m.text()
    for step in steps_of(schema):
        nodes = nodes_for_step(schema, step.id, {}, {})
        assert [n.name for n in nodes] == list(step.fields)
        for node in nodes:
            html = env.get_template("nodes/node.html").render(node=node)
            assert f'name="{node.name}"' in html
            assert node.label


def test_banking_draws_a_phone_input_country_selects_and_required_consents() -> None:
    schema = TEMPLATES["banking"].payload_schema
    person = {n.name: n for n in nodes_for_step(schema, "person", {}, {})}
    assert person["phone"].input_type == "tel"
    assert person["phone"].required
    assert person["nationality"].type == "select"
    assert ("DE", "Germany") in [(o.value, o.label) for o in person["nationality"].options]
    consents = {n.name: n for n in nodes_for_step(schema, "consents", {}, {})}
    assert consents["terms"].required and consents["privacy"].required
    assert not consents["marketing"].required


@template_ids
def test_policy_loads(template_id: str) -> None:
    template = TEMPLATES[template_id]
    PolicyConfig(**template.password_policy)
    policy = policy_from_config(template.password_policy)
    assert policy.min_length >= 8
    assert policy.validate("violet-Harbour-77-lantern") == []


def test_banking_policy_is_stricter() -> None:
    policy = policy_from_config(TEMPLATES["banking"].password_policy)
    assert policy.min_length == 12
    assert policy.history == 5
    failures = [m.id for m in policy.validate("shortpass")]
    assert failures == [
        "password.too_short",
        "password.need_digits",
        "password.need_uppercase",
        "password.need_special",
    ]
    assert "password.help.history" in [m.id for m in policy.help()]


def test_ecommerce_keeps_the_default_policy() -> None:
    default = policy_from_config({})
    assert policy_from_config(TEMPLATES["ecommerce"].password_policy).help() == default.help()


@template_ids
def test_a_valid_sample_payload_validates(template_id: str) -> None:
    assert validate_payload(TEMPLATES[template_id].payload_schema, VALID[template_id]) == {}


@template_ids
def test_an_invalid_sample_fails_on_the_right_field(template_id: str) -> None:
    change, field, message_id = INVALID[template_id]
    errors = validate_payload(
        TEMPLATES[template_id].payload_schema, {**VALID[template_id], **change}
    )
    assert list(errors) == [field]
    assert [m.id for m in errors[field]] == [message_id]


@template_ids
def test_unknown_fields_are_refused(template_id: str) -> None:
    payload = {**VALID[template_id], "is_admin": True}
    errors = validate_payload(TEMPLATES[template_id].payload_schema, payload)
    assert [m.id for m in errors["is_admin"]] == ["form.unknown_field"]


def test_banking_form_reads_step_by_step_into_a_valid_payload() -> None:
    schema = TEMPLATES["banking"].payload_schema
    form = {
        "account": {"email": "Anna.Schmidt@Example.com"},
        "person": {
            "given_name": "Anna",
            "family_name": "Schmidt",
            "date_of_birth": "1990-04-01",
            "nationality": "DE",
            "phone": "+49 151 23456789",
        },
        "address": {
            "street": "Hauptstraße 1",
            "postal_code": "10115",
            "city": "Berlin",
            "country": "DE",
        },
        "consents": {"terms": "on", "privacy": "on"},
    }
    payload: dict[str, object] = {}
    for step, values in form.items():
        payload |= read_step(schema, step, {k: [v] for k, v in values.items()})
    assert payload["phone"] == "+4915123456789"
    assert payload["marketing"] is False
    assert validate_payload(schema, payload) == {}


def test_banking_consents_step_refuses_missing_terms() -> None:
    schema = TEMPLATES["banking"].payload_schema
    with pytest.raises(InvalidInput) as refused:
        read_step(schema, "consents", {"privacy": ["on"]})
    assert [m.id for m in refused.value.messages["terms"]] == ["form.must_accept"]


def test_activation_and_registration_settings() -> None:
    assert TEMPLATES["ecommerce"].activation_methods == ("email",)
    assert TEMPLATES["ecommerce"].self_registration is True
    assert TEMPLATES["banking"].activation_methods == ("phone", "email")
    employees = TEMPLATES["b2b-employees"]
    assert employees.self_registration is False
    assert employees.email_domains == ()
    assert employees.metadata_schema is not None
    assert {"roles", "groups", "employee_number"} <= set(employees.metadata_schema["properties"])


def test_metadata_schema_validates_roles_and_groups() -> None:
    good = {"roles": ["buyer", "team-lead"], "groups": ["Berlin"], "customer_number": "C-1001"}
    assert validate_payload(METADATA_SCHEMA, good) == {}
    bad = {"roles": ["Has Spaces"], "groups": ["a", "a"], "extra": 1}
    assert set(validate_payload(METADATA_SCHEMA, bad)) == {"roles", "groups", "extra"}


# Built-in schemas -------------------------------------------------------------------------


def test_builtin_schema_ids_are_stable_and_bodies_are_checked() -> None:
    schemas = builtin_schemas()
    assert [(s.id, s.kind) for s in schemas] == [
        ("builtin-ecommerce", "payload"),
        ("builtin-banking", "payload"),
        ("builtin-employees", "payload"),
        ("builtin-metadata", "metadata"),
    ]
    for schema in schemas:
        check_custom_schema(schema.body, schema.kind)


@template_ids
def test_templates_point_at_their_builtin_schemas(template_id: str) -> None:
    template: SectorTemplate = TEMPLATES[template_id]
    by_id = {s.id: s for s in builtin_schemas()}
    assert by_id[template.payload_schema_id].body == template.payload_schema
    if template.metadata_schema_id is None:
        assert template.metadata_schema is None
    else:
        assert by_id[template.metadata_schema_id].body == template.metadata_schema


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield database
    finally:
        await database.dispose()


async def _schema_rows(db: Database) -> dict[str, IdentitySchema]:
    async with db.read() as session:
        return {r.id: r for r in (await session.execute(select(IdentitySchema))).scalars()}


async def test_ensure_builtin_schemas_is_idempotent(db: Database, clock: ManualClock) -> None:
    for _ in range(2):
        async with db.write() as session:
            await ensure_builtin_schemas(session, clock.now())
    rows = await _schema_rows(db)
    assert sorted(rows) == sorted(s.id for s in builtin_schemas())
    for schema in builtin_schemas():
        row = rows[schema.id]
        assert (row.builtin, row.tenant_id, row.kind, row.name) == (
            True,
            None,
            schema.kind,
            schema.name,
        )
        assert row.body == schema.body
        assert row.created_at == clock.now()


async def test_ensure_builtin_schemas_brings_a_changed_body_up_to_date(
    db: Database, clock: ManualClock
) -> None:
    async with db.write() as session:
        await ensure_builtin_schemas(session, clock.now())
    async with db.write() as session:
        row = await session.get(IdentitySchema, BUILTIN_METADATA)
        assert row is not None
        row.body = {"type": "object"}
        row.name = "old name"
    clock.advance(60)
    async with db.write() as session:
        await ensure_builtin_schemas(session, clock.now())
    row = (await _schema_rows(db))[BUILTIN_METADATA]
    assert row.body == METADATA_SCHEMA
    assert row.name != "old name"


async def test_a_tenant_schema_holding_a_builtin_id_is_left_alone(
    db: Database, clock: ManualClock
) -> None:
    now = clock.now()
    async with db.write() as session:
        session.add(Tenant(id="acme", name="ACME", theme={}, created_at=now))
        await session.flush()
        session.add(
            IdentitySchema(
                id=BUILTIN_METADATA,
                tenant_id="acme",
                name="Mine",
                kind="metadata",
                body={"type": "object"},
                builtin=False,
                created_at=now,
            )
        )
    async with db.write() as session:
        await ensure_builtin_schemas(session, now)
    rows = await _schema_rows(db)
    mine = rows[BUILTIN_METADATA]
    assert (mine.tenant_id, mine.body, mine.builtin) == ("acme", {"type": "object"}, False)
    assert len(rows) == len(builtin_schemas())
