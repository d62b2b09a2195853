"""Built-in schemas and the demo tenant with its sample pools. Idempotent: running it
again adds what is missing and changes nothing that exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.branding.tokens import layer_of
from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.forms import check_schema
from widget_server.models import (
    AdminPrincipal,
    AdminPrincipalPool,
    IdentitySchema,
    Pool,
    Tenant,
    ThemeAssignment,
    ThemeRecord,
    ThemeVersion,
    Workspace,
)
from widget_server.secrets_ import new_id
from widget_server.themes import load_builtin_themes, merge_layer

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
    #: The name of its workspace (``DEMO_WORKSPACES``).
    workspace: str
    self_registration: bool = True
    theme: dict[str, Any] = msgspec.field(default_factory=dict)
    activation_methods: tuple[str, ...] = ("email",)
    #: Second factor: "off", "optional" (users may enrol in the account portal), "required".
    mfa: str = "off"
    #: The business customer's own admins may brand the pool and set its password policy.
    delegated: bool = False


DEMO_POOLS = (
    DemoPool(
        id="partner-1",
        name="Partner 1",
        schema="consumer-basic",
        workspace="Partners",
        theme={"logo": {"text": "Partner One"}},
    ),
    DemoPool(
        id="partner-2",
        name="Partner 2",
        schema="consumer-basic",
        workspace="Partners",
        theme={
            "logo": {"text": "Partner Two"},
            "colors": {"primary": "#0f766e", "focus": "rgba(15,118,110,0.75)"},
            "radius": "4px",
        },
    ),
    DemoPool(
        id="business-1",
        name="Business 1",
        schema="business-customer",
        workspace="Business customers",
        theme={"logo": {"text": "Business One"}},
        mfa="optional",
        delegated=True,
    ),
    DemoPool(
        id="employees",
        name="Employees",
        schema="employee",
        workspace="Employees",
        self_registration=False,
        theme={"logo": {"text": "ACME Staff"}},
    ),
    # Registration by mobile number: the activation code comes by SMS (the demo files
    # texts in the dev mailbox beside the emails).
    DemoPool(
        id="partner-phone",
        name="Partner 3 (phone)",
        schema="consumer-phone",
        workspace="Partners",
        activation_methods=("phone",),
        theme={"logo": {"text": "Partner Three"}, "colors": {"primary": "#7c3aed"}},
    ),
)


DEMO_WORKSPACES = ("Partners", "Business customers", "Employees")


class DemoTheme(msgspec.Struct, frozen=True, kw_only=True):
    #: Stable, so seeding again finds it.
    id: str
    name: str
    base: str
    tokens: dict[str, Any]
    #: The workspace it is made for and assigned to.
    workspace: str


DEMO_THEMES = (
    DemoTheme(
        id="acme-partners",
        name="ACME Partners",
        base="default",
        tokens={
            "colors": {"primary": "#b42318", "focus": "#b42318b3", "background": "#fbf7f6"},
            "radius": "6px",
            "button": {"shape": "pill"},
        },
        workspace="Partners",
    ),
    DemoTheme(
        id="acme-staff",
        name="ACME Staff",
        base="dark",
        tokens={"page": {"layout": "card"}},
        workspace="Employees",
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
            # The floor is the product's default length: pool admins may go longer, not shorter.
            floor = {"min_length": 8}
            session.add(
                Tenant(id=DEMO_TENANT, name="ACME", theme={}, password_floor=floor, created_at=now)
            )
        await session.flush()
        workspaces = await _seed_workspaces(session, now)
        for demo in DEMO_POOLS:
            pool = await session.get(Pool, demo.id)
            if pool is None:
                session.add(
                    Pool(
                        id=demo.id,
                        tenant_id=DEMO_TENANT,
                        workspace_id=workspaces[demo.workspace],
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
                        admins_may_brand=demo.delegated,
                        admins_may_set_policy=demo.delegated,
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
        await session.flush()
        await _seed_themes(session, workspaces, now)


async def _seed_workspaces(session: AsyncSession, now: datetime) -> dict[str, str]:
    """The demo's workspaces by name, made where missing."""
    rows = await session.execute(
        select(Workspace.name, Workspace.id).where(Workspace.tenant_id == "acme")
    )
    found = {name: workspace_id for name, workspace_id in rows}
    for name in DEMO_WORKSPACES:
        if name not in found:
            found[name] = new_id()
            session.add(
                Workspace(
                    id=found[name], tenant_id="acme", name=name, created_at=now, updated_at=now
                )
            )
    await session.flush()
    return found


async def _seed_themes(session: AsyncSession, workspaces: dict[str, str], now: datetime) -> None:
    """Two custom themes, published and assigned to their workspaces."""
    for demo in DEMO_THEMES:
        if await session.get(ThemeRecord, demo.id) is not None:
            continue
        tokens = merge_layer(layer_of(load_builtin_themes()[demo.base]), demo.tokens)
        workspace_id = workspaces[demo.workspace]
        session.add(
            ThemeRecord(
                id=demo.id,
                tenant_id="acme",
                workspace_id=workspace_id,
                pool_id=None,
                name=demo.name,
                base=demo.base,
                draft=tokens,
                draft_revision=1,
                draft_updated_at=now,
                draft_updated_by="demo",
                published_version=1,
                created_at=now,
            )
        )
        await session.flush()
        session.add_all(
            [
                ThemeVersion(
                    theme_id=demo.id,
                    number=1,
                    tokens=tokens,
                    published_at=now,
                    published_by=None,
                    published_by_name="demo",
                    restored_from=None,
                    contrast_failures=[],
                ),
                ThemeAssignment(
                    level="workspace",
                    target_id=workspace_id,
                    tenant_id="acme",
                    theme_id=demo.id,
                    assigned_at=now,
                    assigned_by="demo",
                ),
            ]
        )


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
    DemoAdmin(
        email="brand@acme.test",
        name="Bea Brand",
        role="brand_designer",
        pool_id=None,
        password="brand-demo-2026",  # noqa: S106 (printed by the demo)
    ),
    DemoAdmin(
        email="dev@partner-1.test",
        name="Dev Partner",
        role="developer",
        pool_id="partner-1",
        password="developer-demo-2026",  # noqa: S106 (printed by the demo)
    ),
)


async def seed_demo_admins(
    db: Database, clock: Clock, hash_password: Callable[[str], str]
) -> tuple[DemoAdmin, ...]:
    """A tenant admin, a pool admin of Business 1, a brand designer of the tenant (the
    operator portal) and a developer of Partner 1 (the developer portal), who can sign in.

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
            principal_id = new_id()
            developer = admin.role == "developer"
            session.add(
                AdminPrincipal(
                    id=principal_id,
                    tenant_id=DEMO_TENANT,
                    # A developer's pools are rows of admin_principal_pools.
                    pool_id=None if developer else admin.pool_id,
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
            if developer and admin.pool_id is not None:
                await session.flush()
                session.add(AdminPrincipalPool(principal_id=principal_id, pool_id=admin.pool_id))
    return DEMO_ADMINS
