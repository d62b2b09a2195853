"""Who may do what to which theme: scope first, then role, as everywhere in the admin.

Every theme, and every target a theme is assigned to, has a *place*: the tenant as a
whole, one workspace, or one pool (which lies in a workspace). A principal reaches the
places inside its own scope; anything else is ``NotFound``, like a theme that does not
exist, so a workspace's designer learns nothing of other workspaces' themes::

    principal scoped to    reaches
    the tenant             every place of the tenant
    workspace W            W, and the pools in W
    pool P                 P only

Inside its scope the role decides (``Forbidden`` otherwise): tenant admins and brand
designers by ``access.PERMISSIONS``; a pool admin may read, edit, publish and assign its
pool's own themes only while the tenant lets that pool's admins brand it
(``pools.admins_may_brand``).

Every refusal is audited, but only once the service's own transaction has ended: checks
run inside it (a theme's place is read in the transaction that changes it), and on
SQLite a second write transaction would wait for the first for ever. So a check raises
a ``Refused`` carrying what to record, and ``@audits_refusals`` on each service function
records it on the way out.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Concatenate, NoReturn, ParamSpec, TypeVar

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin.access import PERMISSIONS, Action, Actor
from widget_server.admin.audit import record_denied
from widget_server.errors import Forbidden, NotFound, PoolNotFound
from widget_server.models import Pool, ThemeRecord
from widget_server.services import Services

P = ParamSpec("P")
R = TypeVar("R")

#: What a pool admin may do to its own pool's themes, when the tenant lets it.
POOL_BRANDING: frozenset[Action] = frozenset(
    {"themes.read", "themes.write", "themes.publish", "themes.assign"}
)


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """Where a theme or target sits. A pool's place names its workspace too."""

    workspace_id: str | None = None
    pool_id: str | None = None

    @property
    def tenant_wide(self) -> bool:
        return self.workspace_id is None and self.pool_id is None


TENANT = Place()


def within(inner: Place, outer: Place) -> bool:
    """Whether ``inner`` lies inside ``outer`` (a pool in its workspace, anything in the
    tenant)."""
    if outer.pool_id is not None:
        return inner.pool_id == outer.pool_id
    return outer.workspace_id is None or inner.workspace_id == outer.workspace_id


def scope_of(actor: Actor) -> Place:
    principal = actor.principal
    return Place(workspace_id=principal.workspace_id, pool_id=principal.pool_id)


async def pool_place(session: AsyncSession, tenant_id: str, pool_id: str) -> Place | None:
    workspace = await session.execute(
        select(Pool.workspace_id).where(Pool.id == pool_id[:64], Pool.tenant_id == tenant_id)
    )
    row = workspace.first()
    return None if row is None else Place(workspace_id=row[0], pool_id=pool_id)


async def theme_place(session: AsyncSession, record: ThemeRecord) -> Place:
    if record.pool_id is not None:
        place = await pool_place(session, record.tenant_id, record.pool_id)
        if place is not None:
            return place
    return Place(workspace_id=record.workspace_id, pool_id=record.pool_id)


class Denied(msgspec.Struct, frozen=True, kw_only=True):
    """What the audit log records about a refusal."""

    action: str
    target_type: str
    target_id: str | None
    pool_id: str | None


class RefusedNotFound(NotFound):
    def __init__(self, kind: str, denied: Denied) -> None:
        super().__init__(kind)
        self.denied = denied
        self.recorded = False


class RefusedForbidden(Forbidden):
    def __init__(self, action: str, denied: Denied) -> None:
        super().__init__(action)
        self.denied = denied
        self.recorded = False


async def check(
    services: Services,
    actor: Actor,
    action: Action,
    place: Place,
    *,
    target_type: str = "theme",
    target_id: str | None = None,
) -> None:
    """Raise ``NotFound`` if ``place`` is outside the actor's scope, ``Forbidden`` if its
    role may not do ``action`` there (audited by ``audits_refusals``)."""
    denied = Denied(
        action=action,
        target_type=target_type,
        target_id=target_id[:64] if target_id else None,
        pool_id=place.pool_id,
    )
    if not within(place, scope_of(actor)):
        raise RefusedNotFound(target_type, denied)
    if not await _allowed(services, actor, action):
        raise RefusedForbidden(action, denied)


def not_found(actor: Actor, action: Action, *, target_type: str, target_id: str) -> NoReturn:
    """An unknown object: refused like one outside the scope, and just as unseen."""
    denied = Denied(action=action, target_type=target_type, target_id=target_id[:64], pool_id=None)
    raise RefusedNotFound(target_type, denied)


def audits_refusals(
    service: Callable[Concatenate[Services, Actor, P], Awaitable[R]],
) -> Callable[Concatenate[Services, Actor, P], Awaitable[R]]:
    """Record a ``check`` refusal in the audit log after ``service`` (and so its
    transaction) has ended; once, however many decorated calls it passes through."""

    @functools.wraps(service)
    async def audited(services: Services, actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await service(services, actor, *args, **kwargs)
        except (RefusedNotFound, RefusedForbidden) as exc:
            if not exc.recorded:
                exc.recorded = True
                await record_denied(
                    services.db,
                    actor,
                    exc.denied.action,
                    target_type=exc.denied.target_type,
                    target_id=exc.denied.target_id,
                    pool_id=exc.denied.pool_id,
                    now=services.clock.now(),
                )
            raise

    return audited


async def _allowed(services: Services, actor: Actor, action: Action) -> bool:
    principal = actor.principal
    if action in PERMISSIONS[principal.role]:
        return True
    if principal.role == "pool_admin" and principal.pool_id and action in POOL_BRANDING:
        try:
            pool = await services.pools.get(principal.pool_id)
        except PoolNotFound:
            return False
        return pool.admins_may_brand
    return False


@audits_refusals
async def require_role(
    services: Services, actor: Actor, action: Action, *, target_type: str = "theme"
) -> None:
    """The role check alone, at the caller's own scope (always in it): a principal whose
    role may never ``action`` is refused with ``Forbidden`` before anything is looked up,
    as for every other resource of the admin API; what it may do is then scoped by the
    service (``NotFound`` outside the scope)."""
    await check(services, actor, action, scope_of(actor), target_type=target_type)
