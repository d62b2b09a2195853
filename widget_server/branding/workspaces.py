"""Workspaces: a tenant's pools (and apps) in groups, "Partners", "Business customers",
"Employees". Every pool belongs to exactly one: a new pool goes to the one named, or to
the tenant's first workspace (made on demand), and a workspace is deleted only empty.

Tenant admins manage workspaces; brand designers read those in their scope (to assign
themes to them). Moving a pool changes its workspace layer, so its version is bumped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from sqlalchemy import delete, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import Action, Actor
from widget_server.branding import reach
from widget_server.branding.access import (
    TENANT,
    Place,
    audits_refusals,
    check,
    not_found,
    scope_of,
    within,
)
from widget_server.errors import Conflict, InvalidInput
from widget_server.messages import msg
from widget_server.models import (
    AdminPrincipal,
    App,
    Pool,
    ThemeAssignment,
    ThemeRecord,
    Workspace,
)
from widget_server.services import Services

DEFAULT_NAME = "Default"
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class WorkspaceView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    pool_ids: list[str]
    app_ids: list[str]
    #: The theme assigned to the workspace, if any.
    theme_id: str | None
    created_at: datetime
    updated_at: datetime


class NewWorkspace(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name


@audits_refusals
async def list_workspaces(services: Services, actor: Actor) -> list[WorkspaceView]:
    """The workspaces in the caller's scope, by name."""
    await check(services, actor, "workspaces.read", scope_of(actor), target_type="workspace")
    scope = scope_of(actor)
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(Workspace)
                .where(Workspace.tenant_id == actor.tenant_id)
                .order_by(Workspace.name, Workspace.id)
            )
        ).scalars()
        return [
            await _view(session, row) for row in rows if within(Place(workspace_id=row.id), scope)
        ]


@audits_refusals
async def get_workspace(services: Services, actor: Actor, workspace_id: str) -> WorkspaceView:
    async with services.db.read() as session:
        row = await _visible(services, session, actor, "workspaces.read", workspace_id)
        return await _view(session, row)


@audits_refusals
async def create_workspace(services: Services, actor: Actor, new: NewWorkspace) -> WorkspaceView:
    await check(services, actor, "workspaces.write", TENANT, target_type="workspace")
    now = services.clock.now()
    name = _clean(new.name)
    try:
        async with services.db.write() as session:
            row = await insert_workspace(session, actor.tenant_id, name, now)
            await _audit(session, actor, "workspace.create", row.id, now, {"name": name})
            return await _view(session, row)
    except IntegrityError:
        raise _name_taken() from None


@audits_refusals
async def rename_workspace(
    services: Services, actor: Actor, workspace_id: str, new: NewWorkspace
) -> WorkspaceView:
    now = services.clock.now()
    name = _clean(new.name)
    try:
        async with services.db.write() as session:
            row = await _visible(services, session, actor, "workspaces.write", workspace_id)
            await _unique(session, actor.tenant_id, name, row.id)
            row.name, row.updated_at = name, now
            await _audit(session, actor, "workspace.rename", row.id, now, {"name": name})
            await session.flush()
            return await _view(session, row)
    except IntegrityError:
        raise _name_taken() from None


@audits_refusals
async def delete_workspace(services: Services, actor: Actor, workspace_id: str) -> None:
    """Delete an empty workspace: no pools, apps, themes or administrators in it."""
    now = services.clock.now()
    async with services.db.write() as session:
        row = await _visible(services, session, actor, "workspaces.write", workspace_id)
        held = 0
        for column, live in (
            (Pool.workspace_id, true()),
            (App.workspace_id, true()),
            (ThemeRecord.workspace_id, true()),
            (AdminPrincipal.workspace_id, AdminPrincipal.revoked_at.is_(None)),
        ):
            held += int(
                await session.scalar(select(func.count()).where(column == row.id, live)) or 0
            )
        if held:
            raise Conflict("brand.workspace_not_empty", count=held)
        # Revoked designers of the workspace keep their rows (the audit trail names them)
        # but no longer point at it; they cannot sign in, so their scope is moot.
        await session.execute(
            update(AdminPrincipal)
            .where(AdminPrincipal.workspace_id == row.id)
            .values(workspace_id=None)
        )
        await session.execute(
            delete(ThemeAssignment).where(
                ThemeAssignment.level == "workspace", ThemeAssignment.target_id == row.id
            )
        )
        await _audit(session, actor, "workspace.delete", row.id, now, {"name": row.name})
        await session.delete(row)


@audits_refusals
async def move_pool(
    services: Services, actor: Actor, pool_id: str, workspace_id: str
) -> WorkspaceView:
    """Put a pool in another workspace of the tenant. Refused while the pool uses a theme
    of its current workspace (it would be outside that theme's reach)."""
    now = services.clock.now()
    async with services.db.write() as session:
        target = await _visible(services, session, actor, "workspaces.write", workspace_id)
        pool = await session.get(Pool, pool_id[:64])
        if pool is None or pool.tenant_id != actor.tenant_id:
            raise InvalidInput({"pool_id": [msg("admin.unknown_pool")]})
        theme_workspace = await session.scalar(
            select(ThemeRecord.workspace_id)
            .join(ThemeAssignment, ThemeAssignment.theme_id == ThemeRecord.id)
            .where(ThemeAssignment.level == "pool", ThemeAssignment.target_id == pool.id)
        )
        if theme_workspace is not None and theme_workspace != target.id:
            raise Conflict("brand.pool_uses_workspace_theme")
        moved_from, pool.workspace_id = pool.workspace_id, target.id
        await reach.bump(session, [pool.id], now)
        await _audit(
            session,
            actor,
            "workspace.move_pool",
            target.id,
            now,
            {"pool_id": pool.id, "from": moved_from},
            pool_id=pool.id,
        )
        await session.flush()
        view = await _view(session, target)
    reach.forget(services, [pool_id])
    return view


@audits_refusals
async def move_app(services: Services, actor: Actor, app_id: str, workspace_id: str | None) -> None:
    """Group an app under a workspace (``None``: under none). Its theme layer still comes
    from the pool a user signs in to; the workspace decides who may assign its theme."""
    now = services.clock.now()
    async with services.db.write() as session:
        if workspace_id is not None:
            await _visible(services, session, actor, "workspaces.write", workspace_id)
        else:
            await check(services, actor, "workspaces.write", TENANT, target_type="workspace")
        app = await session.get(App, app_id[:64])
        if app is None or app.tenant_id != actor.tenant_id:
            raise InvalidInput({"app_id": [msg("brand.unknown_target", kind="app")]})
        app.workspace_id = workspace_id
        await _audit(session, actor, "workspace.move_app", workspace_id, now, {"app_id": app.id})


async def insert_workspace(
    session: AsyncSession, tenant_id: str, name: str, now: datetime
) -> Workspace:
    await _unique(session, tenant_id, name, None)
    row = Workspace(
        id=secrets_.new_id(), tenant_id=tenant_id, name=name, created_at=now, updated_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def default_workspace(session: AsyncSession, tenant_id: str, now: datetime) -> str:
    """Where a pool goes when nobody says: the tenant's first workspace, made if none."""
    found = await session.scalar(
        select(Workspace.id)
        .where(Workspace.tenant_id == tenant_id)
        .order_by(Workspace.created_at, Workspace.id)
        .limit(1)
    )
    if found is not None:
        return found
    return (await insert_workspace(session, tenant_id, DEFAULT_NAME, now)).id


async def workspace_of_tenant(
    session: AsyncSession, tenant_id: str, workspace_id: str
) -> Workspace | None:
    row = await session.get(Workspace, workspace_id[:36])
    return row if row is not None and row.tenant_id == tenant_id else None


async def _visible(
    services: Services,
    session: AsyncSession,
    actor: Actor,
    action: Action,
    workspace_id: str,
) -> Workspace:
    row = await workspace_of_tenant(session, actor.tenant_id, workspace_id)
    if row is None:
        not_found(actor, action, target_type="workspace", target_id=workspace_id)
    place = Place(workspace_id=row.id)
    await check(services, actor, action, place, target_type="workspace", target_id=row.id)
    return row


async def _unique(session: AsyncSession, tenant_id: str, name: str, own_id: str | None) -> None:
    taken = await session.scalar(
        select(Workspace.id).where(Workspace.tenant_id == tenant_id, Workspace.name == name)
    )
    if taken is not None and taken != own_id:
        raise _name_taken()


def _name_taken() -> InvalidInput:
    return InvalidInput({"name": [msg("brand.workspace_name_taken")]})


def _clean(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput({"name": [msg("form.required")]})
    return cleaned


async def _view(session: AsyncSession, row: Workspace) -> WorkspaceView:
    pools = (
        await session.execute(select(Pool.id).where(Pool.workspace_id == row.id).order_by(Pool.id))
    ).scalars()
    apps = (
        await session.execute(select(App.id).where(App.workspace_id == row.id).order_by(App.id))
    ).scalars()
    theme_id = await session.scalar(
        select(ThemeAssignment.theme_id).where(
            ThemeAssignment.level == "workspace", ThemeAssignment.target_id == row.id
        )
    )
    return WorkspaceView(
        id=row.id,
        name=row.name,
        pool_ids=list(pools),
        app_ids=list(apps),
        theme_id=theme_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    workspace_id: str | None,
    now: datetime,
    details: dict[str, object],
    *,
    pool_id: str | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type="workspace",
        target_id=workspace_id,
        pool_id=pool_id,
        now=now,
        details=dict(details),
    )
