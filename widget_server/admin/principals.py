"""Administrators: people (portal sign-in) and API keys (machines), each with a role and a
scope (the tenant, one workspace for brand designers and developers, one pool for pool
roles, one or more pools for developers: ``developer_scope``). Only tenant admins manage
them.

Escalation is closed three ways: the role table gives pool roles no ``admins.*`` action;
a principal can never grant a role above its own; nobody changes or revokes themselves
(so the last tenant admin cannot lock the tenant out by accident, either).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import Actor, Role, new_api_key, outranks_or_equals
from widget_server.admin.developer_scope import (
    SCOPE_WORDS,
    check_pools,
    pools_by_principal,
    requested,
    store_pools,
)
from widget_server.admin.guard import guard
from widget_server.admin.validation import Problems
from widget_server.branding.workspaces import workspace_of_tenant
from widget_server.canonical import IdentifierRefused, canonical_email
from widget_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from widget_server.models import AdminPrincipal, AdminSession, Pool
from widget_server.passwords.policy import PasswordContext, policy_from_config
from widget_server.services import Services

#: Administrators guard many accounts: a longer minimum than end users get by default.
ADMIN_PASSWORD_POLICY = policy_from_config({"min_length": 12})
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class AdminView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    role: str
    name: str
    email: str | None
    pool_id: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    workspace_id: str | None = None
    #: A developer's pools (``pool_id`` is then None); empty for every other role.
    pool_ids: list[str] = msgspec.field(default_factory=list)


class NewAdmin(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["person", "api_key"]
    role: Role
    name: _Name
    #: Required for pool roles, absent for tenant admins and brand designers.
    pool_id: str | None = None
    #: A developer's pools, one or more (``pool_id`` alone names one); developers only.
    pool_ids: list[str] | None = None
    #: A brand designer's or developer's workspace; absent: the whole tenant.
    workspace_id: str | None = None
    #: People only.
    email: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    password: Annotated[str, msgspec.Meta(max_length=1024)] | None = None


class AdminPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name | None = None
    role: Role | None = None


class CreatedAdmin(msgspec.Struct, frozen=True, kw_only=True):
    admin: AdminView
    #: The API key, shown this once; only its keyed hash is stored.
    api_key: str | None = None


async def list_admins(services: Services, actor: Actor) -> list[AdminView]:
    await guard(services, actor, "admins.read", target_type="admin")
    async with services.db.read() as session:
        rows = (
            (
                await session.execute(
                    select(AdminPrincipal)
                    .where(AdminPrincipal.tenant_id == actor.tenant_id)
                    .order_by(AdminPrincipal.created_at, AdminPrincipal.id)
                )
            )
            .scalars()
            .all()
        )
        pools = await pools_by_principal(session, [r.id for r in rows if r.role == "developer"])
    return [_view(r, pools.get(r.id, [])) for r in rows]


async def get_admin(services: Services, actor: Actor, admin_id: str) -> AdminView:
    await guard(services, actor, "admins.read", target_type="admin", target_id=admin_id)
    async with services.db.read() as session:
        row = await _row(session, actor, admin_id)
        return _view(row, (await pools_by_principal(session, [row.id])).get(row.id, []))


async def create_admin(services: Services, actor: Actor, new: NewAdmin) -> CreatedAdmin:
    await guard(services, actor, "admins.write", target_type="admin")
    if not outranks_or_equals(actor.principal, new.role):
        raise Forbidden("admins.write")
    problems = Problems()
    developer_pools: list[str] = []
    async with services.db.read() as session:
        if new.role == "developer":
            developer_pools = await _check_developer(session, actor, new, problems)
        else:
            if new.pool_ids is not None:
                problems.add("pool_ids", "admin.role_scope", role=new.role, scope="one pool")
            await _check_scope(session, actor, new.role, new.pool_id, problems, new.workspace_id)
        await _check_workspace(session, actor, new.role, new.workspace_id, problems)
    email = _check_person(new, problems) if new.kind == "person" else None
    if new.kind == "api_key" and (new.email is not None or new.password is not None):
        problems.add("kind", "admin.api_key_fields")
    problems.raise_if_any()
    principal_id = secrets_.new_id()
    key: str | None = None
    if new.kind == "person":
        secret_hash = await services.hashing.hash(new.password or "")
    else:
        key, secret_hash = new_api_key(services.settings.secret_key, principal_id)
    now = services.clock.now()
    row = AdminPrincipal(
        id=principal_id,
        tenant_id=actor.tenant_id,
        # A developer's pools are rows of admin_principal_pools, never this column.
        pool_id=None if new.role == "developer" else new.pool_id,
        workspace_id=new.workspace_id,
        kind=new.kind,
        role=new.role,
        name=new.name,
        email=email,
        secret_hash=secret_hash,
        created_by=actor.principal.id,
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    try:
        async with services.db.write() as session:
            session.add(row)
            await session.flush()
            await store_pools(session, row.id, developer_pools)
            details: dict[str, Any] = {"role": new.role}
            if developer_pools:
                details["pool_ids"] = developer_pools
            await _audit(session, actor, "admin.create", row, now, details)
    except IntegrityError:
        raise InvalidInput({"email": [Problems.message("admin.email_taken")]}) from None
    return CreatedAdmin(admin=_view(row, developer_pools), api_key=key)


async def update_admin(
    services: Services, actor: Actor, admin_id: str, patch: AdminPatch
) -> AdminView:
    await guard(services, actor, "admins.write", target_type="admin", target_id=admin_id)
    if admin_id == actor.principal.id:
        raise Conflict("admin.self_change")
    if patch.role is not None and not outranks_or_equals(actor.principal, patch.role):
        raise Forbidden("admins.write")
    now = services.clock.now()
    async with services.db.write() as session:
        row = await _row(session, actor, admin_id)
        problems = Problems()
        pools = (await pools_by_principal(session, [row.id])).get(row.id, [])
        if patch.role is not None and patch.role != row.role:
            pools = await _rescope(session, actor, row, patch.role, pools, problems)
        problems.raise_if_any()
        if patch.name is not None:
            row.name = patch.name
        if patch.role is not None and patch.role != row.role:
            row.role = patch.role
            if patch.role == "developer":
                row.pool_id = None
            await store_pools(session, row.id, pools)
            # A changed role takes effect now, not at the next sign-in.
            await session.execute(delete(AdminSession).where(AdminSession.principal_id == row.id))
        await _audit(session, actor, "admin.update", row, now, {"role": row.role})
        return _view(row, pools)


async def revoke_admin(services: Services, actor: Actor, admin_id: str) -> AdminView:
    await guard(services, actor, "admins.write", target_type="admin", target_id=admin_id)
    if admin_id == actor.principal.id:
        raise Conflict("admin.self_change")
    now = services.clock.now()
    async with services.db.write() as session:
        row = await _row(session, actor, admin_id)
        if row.revoked_at is None:
            await session.execute(
                update(AdminPrincipal).where(AdminPrincipal.id == row.id).values(revoked_at=now)
            )
            row.revoked_at = now
        await session.execute(delete(AdminSession).where(AdminSession.principal_id == row.id))
        await _audit(session, actor, "admin.revoke", row, now, {})
        return _view(row, (await pools_by_principal(session, [row.id])).get(row.id, []))


# --- helpers ---------------------------------------------------------------------------


async def _row(session: AsyncSession, actor: Actor, admin_id: str) -> AdminPrincipal:
    row = await session.get(AdminPrincipal, admin_id[:36])
    if row is None or row.tenant_id != actor.tenant_id:
        raise NotFound("admin")
    return row


async def _check_developer(
    session: AsyncSession, actor: Actor, new: NewAdmin, problems: Problems
) -> list[str]:
    """A developer's pools (one or more), or [] for a workspace developer."""
    pools = requested(new.pool_id, new.pool_ids)
    # Problems name the field the caller used (``pool_id`` for one pool, as before).
    field = "pool_ids" if new.pool_ids is not None else "pool_id"
    if (pools is None) == (new.workspace_id is None):
        problems.add(field, "admin.role_scope", role="developer", scope=SCOPE_WORDS)
        return []
    if pools is None:
        return []
    return await check_pools(session, actor.tenant_id, pools, problems, field)


async def _rescope(
    session: AsyncSession,
    actor: Actor,
    row: AdminPrincipal,
    role: Role,
    pools: list[str],
    problems: Problems,
) -> list[str]:
    """A role change keeps the scope: a pool role's one pool becomes a developer's set of
    one; a developer becomes a pool role only with exactly one pool. Returns the
    developer pools the principal has after the change."""
    if role == "developer":
        moved = [row.pool_id] if row.pool_id is not None else pools
        if not moved and row.workspace_id is None:
            problems.add("role", "admin.role_scope", role=role, scope=SCOPE_WORDS)
        await _check_workspace(session, actor, role, row.workspace_id, problems)
        return moved
    pool_id = row.pool_id
    if row.role == "developer":
        if len(pools) > 1 or (role in ("tenant_admin", "brand_designer") and pools):
            problems.add("role", "admin.role_scope", role=role, scope=_ONE_SCOPE[role])
            return pools
        pool_id = pools[0] if pools else None
    await _check_scope(session, actor, role, pool_id, problems, row.workspace_id)
    await _check_workspace(session, actor, role, row.workspace_id, problems)
    if not problems.by_field:
        row.pool_id = pool_id
    return []


_ONE_SCOPE: dict[Role, str] = {
    "tenant_admin": "the whole tenant",
    "brand_designer": "the tenant or a workspace",
    "pool_admin": "one pool",
    "pool_viewer": "one pool",
    "developer": SCOPE_WORDS,
}


async def _check_scope(
    session: AsyncSession,
    actor: Actor,
    role: Role,
    pool_id: str | None,
    problems: Problems,
    workspace_id: str | None = None,
) -> None:
    if role in ("tenant_admin", "brand_designer"):
        if pool_id is not None:
            scope = "the whole tenant" if role == "tenant_admin" else "the tenant or a workspace"
            problems.add("pool_id", "admin.role_scope", role=role, scope=scope)
        return
    if pool_id is None:
        problems.add("pool_id", "admin.role_scope", role=role, scope="one pool")
        return
    pool = await session.get(Pool, pool_id[:64])
    if pool is None or pool.tenant_id != actor.tenant_id:
        problems.add("pool_id", "admin.unknown_pool")


async def _check_workspace(
    session: AsyncSession,
    actor: Actor,
    role: Role,
    workspace_id: str | None,
    problems: Problems,
) -> None:
    """Only brand designers and developers may be scoped to a workspace (the other roles'
    services scope by pool or tenant)."""
    if workspace_id is None:
        return
    if role not in ("brand_designer", "developer"):
        problems.add("workspace_id", "admin.role_scope", role=role, scope="the tenant or one pool")
    elif await workspace_of_tenant(session, actor.tenant_id, workspace_id) is None:
        problems.add("workspace_id", "brand.unknown_workspace")


def _check_person(new: NewAdmin, problems: Problems) -> str | None:
    email: str | None = None
    try:
        email = canonical_email(new.email or "")
    except IdentifierRefused as refused:
        problems.by_field.setdefault("email", []).append(refused.message)
    if not new.password:
        problems.add("password", "form.required")
    else:
        context = PasswordContext(identifier=email, attributes=(new.name,))
        for problem in ADMIN_PASSWORD_POLICY.validate(new.password, context):
            problems.by_field.setdefault("password", []).append(problem)
    return email


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: AdminPrincipal,
    now: datetime,
    details: dict[str, str],
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type="admin",
        target_id=row.id,
        pool_id=row.pool_id,
        now=now,
        details={"kind": row.kind, **details},
    )


def _view(row: AdminPrincipal, pools: list[str] | None = None) -> AdminView:
    return AdminView(
        id=row.id,
        kind=row.kind,
        role=row.role,
        name=row.name,
        email=row.email,
        pool_id=row.pool_id,
        created_at=row.created_at,
        created_by=row.created_by,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        workspace_id=row.workspace_id,
        pool_ids=list(pools or []),
    )
