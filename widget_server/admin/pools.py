"""Pools, as the platform operator manages them: create (from a sector template), read,
change settings, delete. Every function checks scope and role first (``guard``) and writes
its audit event in the same transaction as the change.

Pool-scoped principals see their own pool and nothing else; only tenant admins change
pool settings (the issue: delegated admins manage users, the operator manages pools),
except what the tenant delegates to a pool's admins (``admin/delegation.py``). No pool's
password policy may be set below the tenant's floor (``passwords/floor.py``), whoever
sets it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin import audit
from widget_server.admin.access import Actor, pool_scope
from widget_server.admin.guard import guard, guarded_pool
from widget_server.admin.templates import TEMPLATES
from widget_server.admin.users import count_invalid_users
from widget_server.admin.validation import Problems
from widget_server.branding.workspaces import default_workspace, workspace_of_tenant
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.flows import after_registration
from widget_server.flows.after_registration import AfterRegistration
from widget_server.models import (
    Address,
    AdminPrincipal,
    AdminPrincipalPool,
    Flow,
    IdentitySchema,
    Pool,
    Session,
    Tenant,
    ThemeAssignment,
    ThemeRecord,
    ThemeVersion,
    User,
)
from widget_server.oidc.mapping import mapping_problems
from widget_server.passwords.floor import below_floor, floor_from_config
from widget_server.services import Services
from widget_server.upsert import insert_ignoring_conflict

POOL_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
MAX_ORIGINS = 32
MAX_DOMAINS = 64
ACTIVATION_METHODS = frozenset({"email", "phone"})
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
_Lifetime = Annotated[int, msgspec.Meta(ge=300, le=30 * 86400)]


class PoolDetail(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    template: str | None
    payload_schema_id: str
    metadata_schema_id: str | None
    password_policy: dict[str, Any]
    activation_methods: list[str]
    self_registration: bool
    allowed_origins: list[str]
    email_domains: list[str]
    theme: dict[str, Any]
    session_lifetime_seconds: int
    session_idle_seconds: int
    phone_regions: list[str]
    mfa: str
    version: int
    created_at: datetime
    updated_at: datetime
    #: Users by status (deleted ones included, as they still hold an id and audit trail).
    users: dict[str, int]
    workspace_id: str | None = None
    #: What the tenant lets this pool's own administrators do (``admin/delegation.py``).
    admins_may_brand: bool = False
    admins_may_set_policy: bool = False
    #: Standard claim -> ``payload.<field>`` / ``metadata.<field>``; null: read from the
    #: schema's field names (``oidc/mapping.py``).
    claim_mapping: dict[str, str] | None = None
    #: What the registration's done step offers (null: the notice alone).
    after_registration: AfterRegistration | None = None


class PoolSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an operator may set on a pool; ``None`` means "leave as it is" (or the template's
    value at creation)."""

    name: _Name | None = None
    payload_schema_id: str | None = None
    metadata_schema_id: str | None = None
    password_policy: dict[str, Any] | None = None
    activation_methods: list[str] | None = None
    self_registration: bool | None = None
    allowed_origins: list[str] | None = None
    email_domains: list[str] | None = None
    theme: dict[str, Any] | None = None
    session_lifetime_seconds: _Lifetime | None = None
    session_idle_seconds: _Lifetime | None = None
    #: ISO 3166 regions phone numbers may come from (empty: any).
    phone_regions: list[Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]] | None = None
    #: Second factor at login: off, optional (users may enrol), required.
    mfa: Literal["off", "optional", "required"] | None = None
    #: Which field feeds which standard OpenID Connect claim (``profile`` scope), e.g.
    #: ``{"given_name": "payload.given_name"}``; checked against the pool's schemas
    #: whenever either changes.
    claim_mapping: dict[str, str] | None = None
    #: What "You're all set" offers: ``sign_in``, ``continue`` (to ``continue_url``, on
    #: one of ``allowed_origins``), ``close`` (an event to the page) or ``none``.
    after_registration: AfterRegistration | None = None


class NewPool(PoolSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=2, max_length=63)]
    #: A sector template id (``GET /templates``); its settings apply where none are given.
    template: str | None = None
    #: The workspace the pool joins; the tenant's first one when absent.
    workspace_id: str | None = None


class PoolPatch(PoolSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Remove the metadata schema (``metadata_schema_id: null`` cannot say it).
    clear_metadata_schema: bool = False


class PoolChange(msgspec.Struct, frozen=True, kw_only=True):
    pool: PoolDetail
    #: When the payload schema changed: existing users whose payload no longer validates.
    invalid_users: int | None = None


async def list_pools(services: Services, actor: Actor) -> list[PoolDetail]:
    await guard(services, actor, "pools.read")
    query = select(Pool).where(Pool.tenant_id == actor.tenant_id).order_by(Pool.name, Pool.id)
    scope = pool_scope(actor.principal)
    if scope is not None:
        query = query.where(Pool.id.in_(scope))
    elif actor.principal.workspace_id is not None:
        query = query.where(Pool.workspace_id == actor.principal.workspace_id)
    async with services.db.read() as session:
        pools = (await session.execute(query)).scalars().all()
        counts = await _user_counts(session, [p.id for p in pools])
    return [_detail(p, counts.get(p.id, {})) for p in pools]


async def get_pool(services: Services, actor: Actor, pool_id: str) -> PoolDetail:
    await guarded_pool(services, actor, "pools.read", pool_id)
    async with services.db.read() as session:
        pool = await session.get(Pool, pool_id)
        if pool is None:
            raise NotFound("pool")
        counts = await _user_counts(session, [pool_id])
    return _detail(pool, counts.get(pool_id, {}))


async def create_pool(services: Services, actor: Actor, new: NewPool) -> PoolDetail:
    await guard(services, actor, "pools.write", target_id=new.id)
    async with services.db.write() as session:
        await insert_pool(session, actor, new, services.clock.now())
    return await get_pool(services, actor, new.id)


async def insert_pool(session: AsyncSession, actor: Actor, new: NewPool, now: datetime) -> None:
    """``create_pool``'s checks and insert, in the caller's transaction (a sector template
    creates a workspace, its pools and its theme in one)."""
    problems = Problems()
    if not POOL_ID.fullmatch(new.id):
        problems.add("id", "admin.invalid_pool_id")
    base = _template_settings(new.template, problems)
    values = await _checked_settings(session, actor, _overlay(base, new), problems)
    for required in ("name", "payload_schema_id"):
        if not values.get(required) and required not in problems.by_field:
            problems.add(required, "form.required")
    await _check_claims(session, values, None, problems)
    workspace_id = await _workspace(session, actor, new.workspace_id, problems, now)
    _check_after(values, values.get("allowed_origins", []), problems)
    problems.raise_if_any()
    row = (
        {
            "id": new.id,
            "tenant_id": actor.tenant_id,
            "template": new.template,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "workspace_id": workspace_id,
        }
        | _DEFAULTS
        | values
    )
    if not await insert_ignoring_conflict(session, Pool, row, ("id",)):
        raise InvalidInput({"id": [problems.message("admin.id_taken")]})
    await audit.record(
        session,
        actor,
        "pool.create",
        target_type="pool",
        target_id=new.id,
        pool_id=new.id,
        now=now,
        details={"template": new.template, "fields": sorted(values), "workspace": workspace_id},
    )


async def _workspace(
    session: AsyncSession,
    actor: Actor,
    workspace_id: str | None,
    problems: Problems,
    now: datetime,
) -> str:
    if workspace_id is None:
        return await default_workspace(session, actor.tenant_id, now)
    if await workspace_of_tenant(session, actor.tenant_id, workspace_id) is None:
        problems.add("workspace_id", "brand.unknown_workspace")
    return workspace_id


async def update_pool(
    services: Services, actor: Actor, pool_id: str, patch: PoolPatch
) -> PoolChange:
    await guarded_pool(services, actor, "pools.write", pool_id)
    problems = Problems()
    now = services.clock.now()
    async with services.db.write() as session:
        values = await _checked_settings(session, actor, patch, problems)
        if patch.clear_metadata_schema:
            values["metadata_schema_id"] = None
        pool = await session.get(Pool, pool_id)
        if pool is None:
            raise NotFound("pool")
        await _check_claims(session, values, pool, problems)
        _check_after(values, values.get("allowed_origins", pool.allowed_origins), problems)
        problems.raise_if_any()
        schema_changed = (
            "payload_schema_id" in values and values["payload_schema_id"] != pool.payload_schema_id
        )
        if values:
            await session.execute(
                update(Pool)
                .where(Pool.id == pool_id)
                .values(**values, version=Pool.version + 1, updated_at=now)
            )
        await audit.record(
            session,
            actor,
            "pool.update",
            target_type="pool",
            target_id=pool_id,
            pool_id=pool_id,
            now=now,
            details={"fields": sorted(values)},
        )
    services.pools.forget(pool_id)
    invalid = None
    if schema_changed:
        invalid = await _impact(services, pool_id, values["payload_schema_id"])
    return PoolChange(pool=await get_pool(services, actor, pool_id), invalid_users=invalid)


async def schema_impact(services: Services, actor: Actor, pool_id: str, schema_id: str) -> int:
    """How many users of the pool would no longer validate under ``schema_id`` (a dry run)."""
    await guarded_pool(services, actor, "pools.read", pool_id)
    async with services.db.read() as session:
        problems = Problems()
        await _check_schema_ref(session, actor, "payload_schema_id", schema_id, "payload", problems)
        problems.raise_if_any()
    return await _impact(services, pool_id, schema_id)


async def delete_pool(services: Services, actor: Actor, pool_id: str) -> None:
    """Delete an empty pool. A pool that still has users (other than deleted ones) is
    refused: deleting people is a per-user decision, audited one by one."""
    await guarded_pool(services, actor, "pools.write", pool_id)
    now = services.clock.now()
    async with services.db.write() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.pool_id == pool_id, User.status != "deleted")
        )
        if live:
            raise Conflict("admin.pool_not_empty", count=int(live))
        scoped = await session.scalar(
            select(func.count())
            .select_from(AdminPrincipal)
            .where(
                or_(
                    AdminPrincipal.pool_id == pool_id,
                    AdminPrincipal.id.in_(
                        select(AdminPrincipalPool.principal_id).where(
                            AdminPrincipalPool.pool_id == pool_id
                        )
                    ),
                ),
                AdminPrincipal.revoked_at.is_(None),
            )
        )
        if scoped:
            raise Conflict("admin.pool_has_admins", count=int(scoped))
        await _delete_pool_rows(session, pool_id)
        await audit.record(
            session,
            actor,
            "pool.delete",
            target_type="pool",
            target_id=pool_id,
            pool_id=pool_id,
            now=now,
        )
    services.pools.forget(pool_id)


# --- helpers ---------------------------------------------------------------------------

_DEFAULTS: dict[str, Any] = {
    "metadata_schema_id": None,
    "password_policy": {},
    "activation_methods": ["email"],
    "self_registration": True,
    "allowed_origins": [],
    "email_domains": [],
    "theme": {},
    "session_lifetime_seconds": 86400,
    "session_idle_seconds": 3600,
    "phone_regions": [],
    "mfa": "off",
}


def _overlay(base: PoolSettings, given: PoolSettings) -> PoolSettings:
    fields = {f: getattr(given, f) for f in PoolSettings.__struct_fields__}
    defaults = {f: getattr(base, f) for f in PoolSettings.__struct_fields__}
    return PoolSettings(**{f: v if v is not None else defaults[f] for f, v in fields.items()})


def _template_settings(template_id: str | None, problems: Problems) -> PoolSettings:
    if template_id is None:
        return PoolSettings()
    settings = template_defaults(template_id)
    if settings is None:
        problems.add("template", "admin.unknown_template")
        return PoolSettings()
    return settings


def template_defaults(template_id: str) -> PoolSettings | None:
    """A sector template's settings; the operator's own values win over them."""
    template = TEMPLATES.get(template_id)
    if template is None:
        return None
    return PoolSettings(
        payload_schema_id=template.payload_schema_id,
        metadata_schema_id=template.metadata_schema_id,
        password_policy=dict(template.password_policy),
        activation_methods=list(template.activation_methods),
        self_registration=template.self_registration,
        email_domains=list(template.email_domains) or None,
        claim_mapping=dict(template.claim_mapping) or None,
    )


async def _checked_settings(
    session: AsyncSession, actor: Actor, given: PoolSettings, problems: Problems
) -> dict[str, Any]:
    """The given settings as column values, each checked; problems are collected."""
    values = _checked_values(given, problems)
    if given.password_policy is not None and "password_policy" not in problems.by_field:
        await check_floor(session, actor.tenant_id, given.password_policy, problems)
    for field, kind in (("payload_schema_id", "payload"), ("metadata_schema_id", "metadata")):
        schema_id = getattr(given, field)
        if schema_id is not None:
            await _check_schema_ref(session, actor, field, schema_id, kind, problems)
            values[field] = schema_id
    return values


def _checked_values(given: PoolSettings, problems: Problems) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if given.name is not None:
        values["name"] = given.name.strip() or problems.add("name", "form.required")
    if given.password_policy is not None:
        problems.check_policy("password_policy", given.password_policy)
        values["password_policy"] = given.password_policy
    if given.activation_methods is not None:
        methods = given.activation_methods
        if (
            not methods
            or not set(methods) <= ACTIVATION_METHODS
            or len(set(methods)) != len(methods)
        ):
            problems.add("activation_methods", "admin.invalid_methods")
        values["activation_methods"] = methods
    if given.allowed_origins is not None:
        values["allowed_origins"] = problems.check_origins(
            "allowed_origins", given.allowed_origins, MAX_ORIGINS
        )
    if given.email_domains is not None:
        values["email_domains"] = problems.check_domains(
            "email_domains", given.email_domains, MAX_DOMAINS
        )
    if given.theme is not None:
        problems.check_theme("theme", given.theme)
        values["theme"] = given.theme
    if given.phone_regions is not None:
        values["phone_regions"] = sorted(set(given.phone_regions))
    if given.after_registration is not None:
        values["after_registration"] = after_registration.stored(given.after_registration)
    # Taken as given here; checked against the rest of the pool later (claim_mapping
    # against the schemas).
    for name in (
        "self_registration",
        "session_lifetime_seconds",
        "session_idle_seconds",
        "mfa",
        "claim_mapping",
    ):
        if getattr(given, name) is not None:
            values[name] = getattr(given, name)
    return values


def _check_after(values: dict[str, Any], origins: list[str], problems: Problems) -> None:
    """A ``continue`` address must be on one of the pool's (new or kept) origins."""
    if "after_registration" not in values:
        return
    setting = after_registration.from_column(values["after_registration"])
    problem = setting and after_registration.check(setting, origins)
    if problem:
        problems.add("after_registration.continue_url", problem)


async def check_floor(
    session: AsyncSession, tenant_id: str, policy: dict[str, Any], problems: Problems
) -> None:
    """Problems for each rule of ``policy`` below the tenant's floor, on
    ``password_policy.<rule>``."""
    floor = floor_from_config(
        await session.scalar(select(Tenant.password_floor).where(Tenant.id == tenant_id))
    )
    for rule, problem in below_floor(policy, floor).items():
        problems.by_field.setdefault(f"password_policy.{rule}", []).append(problem)


async def _check_schema_ref(
    session: AsyncSession,
    actor: Actor,
    field: str,
    schema_id: str,
    kind: str,
    problems: Problems,
) -> None:
    row = await session.get(IdentitySchema, schema_id[:64])
    visible = row is not None and (row.builtin or row.tenant_id == actor.tenant_id)
    if not visible or row is None:
        problems.add(field, "admin.unknown_schema")
    elif row.kind != kind:
        problems.add(field, "admin.schema_kind", kind=kind)


async def _check_claims(
    session: AsyncSession, values: dict[str, Any], current: Pool | None, problems: Problems
) -> None:
    """The claim mapping against the schemas, when either changes: a mapping given now,
    or the stored one under a new payload or metadata schema."""
    changed = {"claim_mapping", "payload_schema_id", "metadata_schema_id"} & set(values)
    mapping = values.get("claim_mapping", current.claim_mapping if current else None)
    if mapping is None or not changed or problems.by_field.keys() & changed:
        return
    payload_id = values.get("payload_schema_id", current.payload_schema_id if current else None)
    metadata_id = values.get(
        "metadata_schema_id", current.metadata_schema_id if current else None
    )
    bodies = {
        row.id: row.body
        for row in (
            await session.execute(
                select(IdentitySchema).where(IdentitySchema.id.in_([payload_id, metadata_id]))
            )
        ).scalars()
    }
    found = mapping_problems(
        mapping, bodies.get(payload_id or "") or {}, bodies.get(metadata_id or "")
    )
    for field, messages in found.items():
        problems.by_field.setdefault(field, []).extend(messages)


async def _user_counts(session: AsyncSession, pool_ids: list[str]) -> dict[str, dict[str, int]]:
    if not pool_ids:
        return {}
    rows = await session.execute(
        select(User.pool_id, User.status, func.count())
        .where(User.pool_id.in_(pool_ids))
        .group_by(User.pool_id, User.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for pool_id, status, count in rows:
        counts.setdefault(pool_id, {})[status] = int(count)
    return counts


async def _impact(services: Services, pool_id: str, schema_id: str) -> int:
    async with services.db.read() as session:
        body = await session.scalar(
            select(IdentitySchema.body).where(IdentitySchema.id == schema_id)
        )
    return await count_invalid_users(services, pool_id, body or {})


async def _delete_pool_rows(session: AsyncSession, pool_id: str) -> None:
    # Deleted users keep their id row for the audit trail until the pool itself goes;
    # the audit events stay (they name the pool and users by id only).
    for table in (Session, Flow, Address, User):
        await session.execute(delete(table).where(table.pool_id == pool_id))
    await session.execute(delete(AdminPrincipal).where(AdminPrincipal.pool_id == pool_id))
    # The pool's theme assignment, and the themes of its own (a brand they may not keep).
    await session.execute(
        delete(ThemeAssignment).where(
            ThemeAssignment.level == "pool", ThemeAssignment.target_id == pool_id
        )
    )
    own = select(ThemeRecord.id).where(ThemeRecord.pool_id == pool_id)
    await session.execute(delete(ThemeAssignment).where(ThemeAssignment.theme_id.in_(own)))
    await session.execute(delete(ThemeVersion).where(ThemeVersion.theme_id.in_(own)))
    await session.execute(delete(ThemeRecord).where(ThemeRecord.pool_id == pool_id))
    await session.execute(delete(Pool).where(Pool.id == pool_id))


def _detail(pool: Pool, counts: dict[str, int]) -> PoolDetail:
    return PoolDetail(
        id=pool.id,
        name=pool.name,
        template=pool.template,
        payload_schema_id=pool.payload_schema_id,
        metadata_schema_id=pool.metadata_schema_id,
        password_policy=pool.password_policy,
        activation_methods=list(pool.activation_methods),
        self_registration=pool.self_registration,
        allowed_origins=list(pool.allowed_origins),
        email_domains=list(pool.email_domains),
        theme=pool.theme,
        session_lifetime_seconds=pool.session_lifetime_seconds,
        session_idle_seconds=pool.session_idle_seconds,
        phone_regions=list(pool.phone_regions),
        mfa=pool.mfa,
        version=pool.version,
        created_at=pool.created_at,
        updated_at=pool.updated_at,
        users=counts,
        workspace_id=pool.workspace_id,
        admins_may_brand=pool.admins_may_brand,
        admins_may_set_policy=pool.admins_may_set_policy,
        claim_mapping=pool.claim_mapping,
        after_registration=after_registration.from_column(pool.after_registration),
    )
