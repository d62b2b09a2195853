"""Built-in schemas and the demo tenant with its sample pools. Idempotent: running it
again adds what is missing and changes nothing that exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.forms import check_schema
from widget_server.models import AdminPrincipal, IdentitySchema, Pool, Tenant
from widget_server.secrets_ import new_id

_SCHEMAS = Path(__file__).resolve().parent / "builtin_schemas"
#: The demo tenant, ACME.
DEMO_TENANT = "acme"

BUILTIN_SCHEMAS = {
    "consumer-basic": "Consumer: email and password",
    "business-customer": "Business customer: several steps",
    "employee": "Employee: name and company email",
    "consumer-phone": "Consumer: mobile number and password",
}


class DemoPool(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    schema: str
    self_registration: bool = True
    theme: dict[str, Any] = msgspec.field(default_factory=dict)
    activation_methods: tuple[str, ...] = ("email",)
    #: Second factor: "off", "optional" (users may enrol in the account portal), "required".
    mfa: str = "off"


DEMO_POOLS = (
    DemoPool(
        id="partner-1",
        name="Partner 1",
        schema="consumer-basic",
        theme={"logo": {"text": "Partner One"}},
    ),
    DemoPool(
        id="partner-2",
        name="Partner 2",
        schema="consumer-basic",
        theme={
            "logo": {"text": "Partner Two"},
            "colors": {"primary": "#0f766e", "focus": "rgba(15,118,110,0.35)"},
            "radius": "4px",
        },
    ),
    DemoPool(
        id="business-1",
        name="Business 1",
        schema="business-customer",
        theme={"logo": {"text": "Business One"}},
        mfa="optional",
    ),
    DemoPool(
        id="employees",
        name="Employees",
        schema="employee",
        self_registration=False,
        theme={"logo": {"text": "ACME Staff"}},
    ),
    # Registration by mobile number: the activation code comes by SMS (the demo files
    # texts in the dev mailbox beside the emails).
    DemoPool(
        id="partner-phone",
        name="Partner 3 (phone)",
        schema="consumer-phone",
        activation_methods=("phone",),
        theme={"logo": {"text": "Partner Three"}, "colors": {"primary": "#7c3aed"}},
    ),
)


def load_builtin_schema(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((_SCHEMAS / f"{name}.json").read_text())
    check_schema(body)
    return body


async def seed_builtin(session: AsyncSession, clock: Clock) -> None:
    for schema_id, title in BUILTIN_SCHEMAS.items():
        if await session.get(IdentitySchema, schema_id) is None:
            session.add(
                IdentitySchema(
                    id=schema_id,
                    tenant_id=None,
                    name=title,
                    kind="payload",
                    body=load_builtin_schema(schema_id),
                    builtin=True,
                    created_at=clock.now(),
                )
            )


async def seed_demo(db: Database, clock: Clock, allowed_origins: list[str]) -> None:
    """The demo tenant ACME and its pools; pools accept embedding from ``allowed_origins``."""
    now = clock.now()
    async with db.write() as session:
        await seed_builtin(session, clock)
        if await session.get(Tenant, DEMO_TENANT) is None:
            session.add(Tenant(id=DEMO_TENANT, name="ACME", theme={}, created_at=now))
        await session.flush()
        for demo in DEMO_POOLS:
            pool = await session.get(Pool, demo.id)
            if pool is None:
                session.add(
                    Pool(
                        id=demo.id,
                        tenant_id=DEMO_TENANT,
                        name=demo.name,
                        payload_schema_id=demo.schema,
                        metadata_schema_id=None,
                        password_policy={},
                        activation_methods=list(demo.activation_methods),
                        self_registration=demo.self_registration,
                        allowed_origins=list(allowed_origins),
                        theme=demo.theme,
                        session_lifetime_seconds=86400,
                        mfa=demo.mfa,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
            elif sorted(pool.allowed_origins) != sorted(
                set(pool.allowed_origins) | set(allowed_origins)
            ):
                # The demo may run on other ports than last time; keep its partner page allowed.
                pool.allowed_origins = sorted(set(pool.allowed_origins) | set(allowed_origins))
                pool.version += 1
                pool.updated_at = now


# --- Demo administrators (the portal) ---------------------------------------------------


class DemoAdmin(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    name: str
    role: str
    pool_id: str | None
    #: Printed by ``widget-server demo``: a demo, not a secret.
    password: str


DEMO_ADMINS = (
    DemoAdmin(
        email="operator@acme.test",
        name="Olivia Operator",
        role="tenant_admin",
        pool_id=None,
        password="operator-demo-2026",  # noqa: S106 (printed by the demo)
    ),
    DemoAdmin(
        email="lead@business-1.test",
        name="Lena Lead",
        role="pool_admin",
        pool_id="business-1",
        password="team-lead-demo-2026",  # noqa: S106 (printed by the demo)
    ),
)


async def seed_demo_admins(
    db: Database, clock: Clock, hash_password: Callable[[str], str]
) -> tuple[DemoAdmin, ...]:
    """A tenant admin and a pool admin of Business 1 who can sign in to the portal.

    Existing ones are left as they are (their password may have been changed)."""
    now = clock.now()
    async with db.write() as session:
        for admin in DEMO_ADMINS:
            found = await session.execute(
                select(AdminPrincipal.id).where(
                    AdminPrincipal.tenant_id == DEMO_TENANT, AdminPrincipal.email == admin.email
                )
            )
            if found.first() is not None:
                continue
            session.add(
                AdminPrincipal(
                    id=new_id(),
                    tenant_id=DEMO_TENANT,
                    pool_id=admin.pool_id,
                    kind="person",
                    role=admin.role,
                    name=admin.name,
                    email=admin.email,
                    secret_hash=hash_password(admin.password),
                    created_by=None,
                    created_at=now,
                    last_used_at=None,
                    revoked_at=None,
                )
            )
    return DEMO_ADMINS
