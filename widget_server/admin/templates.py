"""Sector templates: a pool's starting point for one kind of business, and the built-in
schemas they use.

A template is data: payload and metadata schema, password policy (``PolicyConfig``
fields), activation methods, self-registration, e-mail domain allow-list. ``create_pool``
copies its settings where the operator gives none, so a pool never depends on a template
after creation (changing a template here changes no existing pool's settings).

Each template's schemas are also stored as built-in, read-only ``IdentitySchema`` rows
with stable ids (``builtin_schemas``, ``ensure_builtin_schemas``), so pools created from
a template point at a schema the operator can see, copy and assign.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.forms.schema import DRAFT_2020_12
from widget_server.models import IdentitySchema
from widget_server.upsert import insert_ignoring_conflict

ActivationMethod = Literal["email", "phone"]
SchemaKind = Literal["payload", "metadata"]


class SectorTemplate(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str
    payload_schema: dict[str, Any]
    payload_schema_id: str
    """The built-in schema row holding ``payload_schema``."""
    metadata_schema: dict[str, Any] | None
    metadata_schema_id: str | None
    password_policy: dict[str, Any]
    """``PolicyConfig`` fields; ``{}`` is the defaults (docs/architecture.md)."""
    activation_methods: tuple[ActivationMethod, ...]
    self_registration: bool
    email_domains: tuple[str, ...]
    """Lower-case domains the identifier must belong to; empty allows any."""
    theme: str = "default"
    """The built-in theme a workspace made from this template starts from
    (``branding/templates.py``)."""
    claim_mapping: dict[str, str] = msgspec.field(default_factory=dict)
    """Standard OpenID Connect claim -> ``payload.<field>`` (``oidc/mapping.py``)."""


class BuiltinSchema(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    kind: SchemaKind
    body: dict[str, Any]


# Shared pieces ---------------------------------------------------------------------------

_COUNTRIES = (
    ("AT", "Austria"),
    ("BE", "Belgium"),
    ("BG", "Bulgaria"),
    ("CH", "Switzerland"),
    ("CY", "Cyprus"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("EE", "Estonia"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GR", "Greece"),
    ("HR", "Croatia"),
    ("HU", "Hungary"),
    ("IE", "Ireland"),
    ("IS", "Iceland"),
    ("IT", "Italy"),
    ("LI", "Liechtenstein"),
    ("LT", "Lithuania"),
    ("LU", "Luxembourg"),
    ("LV", "Latvia"),
    ("MT", "Malta"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("RO", "Romania"),
    ("SE", "Sweden"),
    ("SI", "Slovenia"),
    ("SK", "Slovakia"),
    ("US", "United States"),
)
_COUNTRY = {
    "type": "string",
    "oneOf": [{"const": code, "title": name} for code, name in _COUNTRIES],
}


def _email(title: str, placeholder: str) -> dict[str, Any]:
    return {
        "type": "string",
        "format": "email",
        "title": title,
        "maxLength": 254,
        "x-identifier": True,
        "x-step": "account",
        "x-placeholder": placeholder,
    }


def _name(title: str, step: str, autocomplete: str) -> dict[str, Any]:
    return {
        "type": "string",
        "title": title,
        "minLength": 1,
        "maxLength": 80,
        "x-step": step,
        "x-autocomplete": autocomplete,
    }


# E-commerce: as little as possible between a shopper and the checkout. ------------------

ECOMMERCE_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "title": "E-commerce customer",
    "type": "object",
    "x-steps": [{"id": "account", "title": "Create your account"}],
    "properties": {
        "email": _email("Email", "you@example.com"),
        "display_name": {
            "type": "string",
            "title": "Name",
            "description": "How we greet you. Optional.",
            "maxLength": 80,
            "x-step": "account",
            "x-autocomplete": "nickname",
        },
    },
    "required": ["email"],
    "additionalProperties": False,
}

# Banking and insurance: know-your-customer data over several steps. ----------------------

BANKING_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "title": "Bank or insurance customer",
    "type": "object",
    "x-steps": [
        {"id": "account", "title": "Your account", "description": "How you will sign in."},
        {
            "id": "person",
            "title": "About you",
            "description": "As on your passport or identity card.",
        },
        {"id": "address", "title": "Your address", "description": "Where you live."},
        {"id": "consents", "title": "Almost done", "description": "Please read and confirm."},
    ],
    "properties": {
        "email": _email("Email", "you@example.com"),
        "given_name": _name("Given name(s)", "person", "given-name"),
        "family_name": _name("Family name", "person", "family-name"),
        "date_of_birth": {
            "type": "string",
            "format": "date",
            "title": "Date of birth",
            "x-step": "person",
            "x-autocomplete": "bday",
        },
        "nationality": {
            "$ref": "#/$defs/country",
            "title": "Nationality",
            "x-step": "person",
        },
        "phone": {
            "type": "string",
            "format": "tel",
            "title": "Mobile phone",
            "description": "With country code, e.g. +49 151 2345678. We send codes here.",
            "maxLength": 32,
            "x-step": "person",
            "x-autocomplete": "tel",
            "x-inputmode": "tel",
        },
        "street": {
            "type": "string",
            "title": "Street and number",
            "minLength": 2,
            "maxLength": 120,
            "x-step": "address",
            "x-autocomplete": "street-address",
        },
        "postal_code": {
            "type": "string",
            "title": "Postal code",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$",
            "maxLength": 10,
            "x-step": "address",
            "x-autocomplete": "postal-code",
            "x-searchable": True,
        },
        "city": {
            "type": "string",
            "title": "City",
            "minLength": 1,
            "maxLength": 80,
            "x-step": "address",
            "x-autocomplete": "address-level2",
            "x-searchable": True,
        },
        "country": {
            "$ref": "#/$defs/country",
            "title": "Country",
            "x-step": "address",
            "x-autocomplete": "country",
        },
        "terms": {
            "type": "boolean",
            "const": True,
            "title": "I accept the terms and conditions",
            "x-step": "consents",
        },
        "privacy": {
            "type": "boolean",
            "const": True,
            "title": "I have read the privacy notice",
            "x-step": "consents",
        },
        "marketing": {
            "type": "boolean",
            "title": "Send me offers by email (optional, you can unsubscribe at any time)",
            "x-step": "consents",
        },
    },
    "required": [
        "email",
        "given_name",
        "family_name",
        "date_of_birth",
        "nationality",
        "phone",
        "street",
        "postal_code",
        "city",
        "country",
        "terms",
        "privacy",
    ],
    "additionalProperties": False,
    "$defs": {"country": _COUNTRY},
}

# B2B employees: the company's own staff, created by their administrators. ---------------

EMPLOYEES_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "title": "Employee",
    "type": "object",
    "x-steps": [
        {"id": "account", "title": "Your account", "description": "Use your work address."},
        {"id": "work", "title": "Your work"},
    ],
    "properties": {
        "email": _email("Work email", "jane.doe@company.com"),
        "given_name": _name("Given name", "account", "given-name"),
        "family_name": _name("Family name", "account", "family-name"),
        "department": {
            "type": "string",
            "title": "Department",
            "maxLength": 120,
            "x-step": "work",
            "x-searchable": True,
        },
        "job_title": {
            "type": "string",
            "title": "Job title",
            "maxLength": 120,
            "x-step": "work",
            "x-autocomplete": "organization-title",
            "x-searchable": True,
        },
    },
    "required": ["email", "given_name", "family_name"],
    "additionalProperties": False,
}

# What administrators (not users) set: one metadata schema for every template. -----------

METADATA_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT_2020_12,
    "title": "Administered data",
    "type": "object",
    "properties": {
        "roles": {
            "type": "array",
            "title": "Roles",
            "items": {"type": "string", "pattern": "^[a-z][a-z0-9_.-]{0,63}$"},
            "uniqueItems": True,
            "maxItems": 50,
        },
        "groups": {
            "type": "array",
            "title": "Groups",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
            "uniqueItems": True,
            "maxItems": 100,
        },
        "customer_number": {
            "type": "string",
            "title": "Customer number",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,31}$",
        },
        "employee_number": {
            "type": "string",
            "title": "Employee number",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9-]{0,31}$",
        },
    },
    "additionalProperties": False,
}

BUILTIN_ECOMMERCE = "builtin-ecommerce"
BUILTIN_BANKING = "builtin-banking"
BUILTIN_EMPLOYEES = "builtin-employees"
BUILTIN_METADATA = "builtin-metadata"

BANKING_POLICY: dict[str, Any] = {
    "min_length": 12,
    "min_digits": 1,
    "min_lowercase": 1,
    "min_uppercase": 1,
    "min_special": 1,
    "history": 5,
}

TEMPLATES: dict[str, SectorTemplate] = {
    t.id: t
    for t in (
        SectorTemplate(
            id="ecommerce",
            name="E-commerce",
            description="Shoppers sign up with email and password; a name is optional.",
            payload_schema=ECOMMERCE_SCHEMA,
            payload_schema_id=BUILTIN_ECOMMERCE,
            metadata_schema=None,
            metadata_schema_id=None,
            password_policy={},
            activation_methods=("email",),
            self_registration=True,
            email_domains=(),
            claim_mapping={"name": "payload.display_name"},
        ),
        SectorTemplate(
            id="banking",
            name="Banking and insurance",
            description=(
                "Identity, contact and address over four steps with explicit consents; "
                "activation by phone or email; strong passwords, none of the last five reused."
            ),
            payload_schema=BANKING_SCHEMA,
            payload_schema_id=BUILTIN_BANKING,
            metadata_schema=METADATA_SCHEMA,
            metadata_schema_id=BUILTIN_METADATA,
            password_policy=BANKING_POLICY,
            theme="midnight",
            # Phone first: the form already collects the number, so the activation code
            # goes by SMS (flows/registration.py picks the first method with a filled field).
            activation_methods=("phone", "email"),
            self_registration=True,
            email_domains=(),
            claim_mapping={
                "given_name": "payload.given_name",
                "family_name": "payload.family_name",
                "birthdate": "payload.date_of_birth",
            },
        ),
        SectorTemplate(
            id="b2b-employees",
            name="B2B employees",
            description=(
                "Staff of one business, created by their administrators: no self-registration; "
                "set the company's email domains when creating the pool."
            ),
            payload_schema=EMPLOYEES_SCHEMA,
            payload_schema_id=BUILTIN_EMPLOYEES,
            metadata_schema=METADATA_SCHEMA,
            metadata_schema_id=BUILTIN_METADATA,
            password_policy={"min_length": 10},
            activation_methods=("email",),
            self_registration=False,
            theme="forest",
            # Empty here on purpose: every business has its own domains, which the operator
            # passes to create_pool as an override (email_domains=["company.com"]).
            email_domains=(),
            claim_mapping={
                "given_name": "payload.given_name",
                "family_name": "payload.family_name",
            },
        ),
    )
}


def builtin_schemas() -> list[BuiltinSchema]:
    """The read-only schemas every installation has, with ids that never change."""
    return [
        BuiltinSchema(
            id=BUILTIN_ECOMMERCE, name="E-commerce customer", kind="payload", body=ECOMMERCE_SCHEMA
        ),
        BuiltinSchema(
            id=BUILTIN_BANKING,
            name="Bank or insurance customer",
            kind="payload",
            body=BANKING_SCHEMA,
        ),
        BuiltinSchema(id=BUILTIN_EMPLOYEES, name="Employee", kind="payload", body=EMPLOYEES_SCHEMA),
        BuiltinSchema(
            id=BUILTIN_METADATA,
            name="Roles, groups, customer and employee number",
            kind="metadata",
            body=METADATA_SCHEMA,
        ),
    ]


async def ensure_builtin_schemas(session: AsyncSession, now: datetime) -> None:
    """Insert the built-in schemas that are missing and bring changed ones up to date.

    Idempotent and safe when several processes start at once: the insert ignores a row
    another process wrote first. A row with a built-in id that is *not* built-in (a
    tenant's own) is left alone: ``builtin-`` ids are reserved for these.
    """
    for schema in builtin_schemas():
        row = await session.get(IdentitySchema, schema.id)
        wanted = (schema.name, schema.kind, schema.body)
        if row is None:
            values = {
                "id": schema.id,
                "tenant_id": None,
                "name": schema.name,
                "kind": schema.kind,
                "body": schema.body,
                "builtin": True,
                "created_at": now,
            }
            await insert_ignoring_conflict(session, IdentitySchema, values, ["id"])
        elif row.builtin and row.tenant_id is None and (row.name, row.kind, row.body) != wanted:
            row.name, row.kind, row.body = wanted
