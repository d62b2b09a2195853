"""Where a theme applies: assigned to the tenant, a workspace, a pool or an app, and
resolved most specific last, token by token (``layers.py``).

A theme may be assigned only inside its own place (a workspace's theme to that
workspace, its pools and apps; a pool's theme to that pool), by someone whose scope
holds the target, and only once it has a published version (a draft never reaches a
page). Assigning bumps the version of every pool the target's pages belong to, in the
same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin import audit
from widget_server.admin.access import Actor
from widget_server.branding import reach
from widget_server.branding.access import (
    TENANT,
    Place,
    audits_refusals,
    check,
    not_found,
    pool_place,
    scope_of,
    theme_place,
    within,
)
from widget_server.branding.catalogue import visible_theme
from widget_server.branding.layers import LEVELS, Level, TokenOrigin, token_origins
from widget_server.errors import InvalidInput, NotFound, PoolNotFound
from widget_server.messages import msg
from widget_server.models import App, Pool, Tenant, ThemeAssignment, ThemeRecord, Workspace
from widget_server.pools import theme_sources_for
from widget_server.services import Services


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """Something a theme can be assigned to, with what is assigned now."""

    level: Level
    id: str
    name: str
    #: The workspace a pool (or app) is in; None for the tenant, a workspace, a loose app.
    workspace_id: str | None
    theme_id: str | None
    theme_name: str | None


class Assigned(msgspec.Struct, frozen=True, kw_only=True):
    level: Level
    target_id: str
    #: None: the level's assignment was removed.
    theme_id: str | None
    #: Pools whose pages changed (their versions were bumped).
    pools: list[str]


@audits_refusals
async def assignment_targets(services: Services, actor: Actor) -> list[Target]:
    """Everything in the caller's scope a theme can be assigned to: the tenant (for
    tenant-wide callers), workspaces, pools, apps; each with its current theme."""
    scope = scope_of(actor)
    await check(services, actor, "themes.assign", scope)
    async with services.db.read() as session:
        current = await _current(session, actor.tenant_id)
        found: list[Target] = []
        if scope.tenant_wide:
            tenant = await session.get(Tenant, actor.tenant_id)
            name = tenant.name if tenant is not None else actor.tenant_id
            found.append(_target(current, "tenant", actor.tenant_id, name, None))
        for row in (
            await session.execute(
                select(Workspace)
                .where(Workspace.tenant_id == actor.tenant_id)
                .order_by(Workspace.name)
            )
        ).scalars():
            if within(Place(workspace_id=row.id), scope):
                found.append(_target(current, "workspace", row.id, row.name, None))
        for pool_id, name, workspace_id in await session.execute(
            select(Pool.id, Pool.name, Pool.workspace_id)
            .where(Pool.tenant_id == actor.tenant_id)
            .order_by(Pool.name, Pool.id)
        ):
            if within(Place(workspace_id=workspace_id, pool_id=pool_id), scope):
                found.append(_target(current, "pool", pool_id, name, workspace_id))
        if scope.pool_id is None:
            for app_id, name, workspace_id in await session.execute(
                select(App.id, App.name, App.workspace_id)
                .where(App.tenant_id == actor.tenant_id, App.revoked_at.is_(None))
                .order_by(App.name, App.id)
            ):
                if within(Place(workspace_id=workspace_id), scope):
                    found.append(_target(current, "app", app_id, name, workspace_id))
    return found


@audits_refusals
async def assignment_target(
    services: Services, actor: Actor, level: Level, target_id: str
) -> Target:
    """One target of ``assignment_targets`` and its theme; ``NotFound`` (audited) for an
    unknown target or one outside the caller's scope."""
    if level not in LEVELS:
        raise InvalidInput({"level": [msg("form.enum")]})
    for target in await assignment_targets(services, actor):
        if target.level == level and target.id == target_id:
            return target
    not_found(actor, "themes.assign", target_type=level, target_id=target_id)


@audits_refusals
async def assign_theme(
    services: Services, actor: Actor, level: Level, target_id: str, theme_id: str | None
) -> Assigned:
    """Make ``theme_id`` the layer of a target (``None`` removes the level's theme)."""
    if level not in LEVELS:
        raise InvalidInput({"level": [msg("form.enum")]})
    now = services.clock.now()
    async with services.db.write() as session:
        place = await _target_place(services, session, actor, level, target_id)
        await check(services, actor, "themes.assign", place, target_type=level, target_id=target_id)
        if theme_id is not None:
            await _assignable(services, session, actor, theme_id, place)
        await session.execute(
            delete(ThemeAssignment).where(
                ThemeAssignment.level == level, ThemeAssignment.target_id == target_id
            )
        )
        if theme_id is not None:
            session.add(
                ThemeAssignment(
                    level=level,
                    target_id=target_id,
                    tenant_id=actor.tenant_id,
                    theme_id=theme_id,
                    assigned_at=now,
                    assigned_by=actor.principal.name[:200],
                )
            )
        pools = await reach.bump(
            session, await reach.pools_reached(session, actor.tenant_id, [(level, target_id)]), now
        )
        await _audit(session, actor, level, target_id, theme_id, place, pools, now)
    reach.forget(services, pools)
    return Assigned(level=level, target_id=target_id, theme_id=theme_id, pools=pools)


@audits_refusals
async def token_origins_for(
    services: Services, actor: Actor, pool_id: str, app_id: str | None = None
) -> list[TokenOrigin]:
    """For a pool (and an app signing in to it), every resolved token with the layer it
    comes from: built-in, tenant, workspace, pool or app, and which theme version."""
    try:
        pool = await services.pools.get(pool_id)
    except PoolNotFound:
        pool = None
    if pool is None or pool.tenant_id != actor.tenant_id:
        not_found(actor, "themes.read", target_type="pool", target_id=pool_id)
    place = Place(workspace_id=pool.workspace_id, pool_id=pool.id)
    await check(services, actor, "themes.read", place, target_type="pool", target_id=pool.id)
    return token_origins(theme_sources_for(pool, app_id))


# --- helpers ---------------------------------------------------------------------------


async def _target_place(
    services: Services, session: AsyncSession, actor: Actor, level: Level, target_id: str
) -> Place:
    place: Place | None = None
    if level == "tenant":
        place = TENANT if target_id == actor.tenant_id else None
    elif level == "workspace":
        row = await session.get(Workspace, target_id[:36])
        if row is not None and row.tenant_id == actor.tenant_id:
            place = Place(workspace_id=row.id)
    elif level == "pool":
        place = await pool_place(session, actor.tenant_id, target_id)
    else:
        app = await session.get(App, target_id[:64])
        if app is not None and app.tenant_id == actor.tenant_id and app.revoked_at is None:
            place = Place(workspace_id=app.workspace_id)
    if place is None:
        not_found(actor, "themes.assign", target_type=level, target_id=target_id)
    return place


async def _assignable(
    services: Services, session: AsyncSession, actor: Actor, theme_id: str, target: Place
) -> ThemeRecord:
    try:
        record = await visible_theme(services, session, actor, "themes.read", theme_id)
    except NotFound:
        raise InvalidInput({"theme_id": [msg("brand.unknown_theme")]}) from None
    if not within(target, await theme_place(session, record)):
        raise InvalidInput({"theme_id": [msg("brand.theme_scope")]})
    if record.published_version is None:
        raise InvalidInput({"theme_id": [msg("brand.not_published")]})
    return record


async def _current(session: AsyncSession, tenant_id: str) -> dict[tuple[str, str], tuple[str, str]]:
    rows = await session.execute(
        select(ThemeAssignment.level, ThemeAssignment.target_id, ThemeRecord.id, ThemeRecord.name)
        .join(ThemeRecord, ThemeRecord.id == ThemeAssignment.theme_id)
        .where(ThemeAssignment.tenant_id == tenant_id)
    )
    return {(level, target): (theme_id, name) for level, target, theme_id, name in rows}


def _target(
    current: dict[tuple[str, str], tuple[str, str]],
    level: Level,
    target_id: str,
    name: str,
    workspace_id: str | None,
) -> Target:
    theme = current.get((level, target_id))
    return Target(
        level=level,
        id=target_id,
        name=name,
        workspace_id=workspace_id,
        theme_id=theme[0] if theme else None,
        theme_name=theme[1] if theme else None,
    )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    level: Level,
    target_id: str,
    theme_id: str | None,
    place: Place,
    pools: list[str],
    now: datetime,
) -> None:
    action: Literal["theme.assign", "theme.unassign"] = (
        "theme.assign" if theme_id is not None else "theme.unassign"
    )
    await audit.record(
        session,
        actor,
        action,
        target_type=level,
        target_id=target_id,
        pool_id=place.pool_id,
        now=now,
        details={"theme_id": theme_id, "pools": pools},
    )
