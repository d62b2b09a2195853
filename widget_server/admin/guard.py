"""The one check every admin service function starts with: tenant, pool scope, role.

A refusal is written to the audit log (outcome ``denied``) before it is raised, so
probing other pools leaves a trail even though the caller only ever sees a 404.
"""

from __future__ import annotations

from widget_server.admin.access import Action, Actor, require
from widget_server.admin.audit import record_denied
from widget_server.errors import Forbidden, NotFound, PoolNotFound
from widget_server.pools import PoolView
from widget_server.services import Services


async def guard(
    services: Services,
    actor: Actor,
    action: Action,
    *,
    pool_id: str | None = None,
    target_type: str = "pool",
    target_id: str | None = None,
) -> PoolView | None:
    """Check ``actor`` may do ``action`` (on ``pool_id``); return the pool's snapshot.

    Unknown pools, pools of another tenant and pools outside the principal's scope all
    raise the same ``NotFound``.
    """
    pool: PoolView | None = None
    try:
        if pool_id is not None:
            try:
                pool = await services.pools.get(pool_id)
            except PoolNotFound:
                raise NotFound("pool") from None
            if pool.tenant_id != actor.tenant_id:
                raise NotFound("pool")
        workspace_id = pool.workspace_id if pool is not None else None
        require(actor.principal, action, pool_id, workspace_id=workspace_id)
    except (NotFound, Forbidden):
        await record_denied(
            services.db,
            actor,
            action,
            target_type=target_type,
            target_id=target_id if target_id is not None else pool_id,
            pool_id=pool_id if pool is not None else None,
            now=services.clock.now(),
        )
        raise
    return pool


async def guarded_pool(
    services: Services,
    actor: Actor,
    action: Action,
    pool_id: str,
    *,
    target_type: str = "pool",
    target_id: str | None = None,
) -> PoolView:
    pool = await guard(
        services, actor, action, pool_id=pool_id, target_type=target_type, target_id=target_id
    )
    assert pool is not None  # guard returns the pool whenever pool_id is given
    return pool
