"""What a tenant lets a business customer's own administrators do with their pool.

Per pool, the tenant decides whether the pool's admins may brand it (edit, publish and
assign the pool's own themes: ``branding/access.py``) and set its password policy. The
policy they set is checked against the tenant's floor (``passwords/floor.py``): a rule
below it is refused with the rule named. Only tenant-wide tenant admins change the
flags and the floor; every change is audited.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select, update

from widget_server.admin import audit
from widget_server.admin.access import Actor, tenant_wide
from widget_server.admin.audit import record_denied
from widget_server.admin.guard import guard, guarded_pool
from widget_server.admin.pools import PoolDetail, check_floor, get_pool
from widget_server.admin.validation import Problems
from widget_server.errors import Forbidden
from widget_server.models import Pool, Tenant
from widget_server.passwords.floor import PasswordFloor, floor_from_config
from widget_server.services import Services


class PoolDelegation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``None`` leaves a flag as it is."""

    admins_may_brand: bool | None = None
    admins_may_set_policy: bool | None = None


async def set_pool_delegation(
    services: Services, actor: Actor, pool_id: str, delegation: PoolDelegation
) -> PoolDetail:
    await guarded_pool(services, actor, "pools.write", pool_id)
    values = {k: v for k, v in msgspec.structs.asdict(delegation).items() if v is not None}
    now = services.clock.now()
    async with services.db.write() as session:
        if values:
            await session.execute(
                update(Pool)
                .where(Pool.id == pool_id)
                .values(**values, version=Pool.version + 1, updated_at=now)
            )
        await audit.record(
            session,
            actor,
            "pool.delegation",
            target_type="pool",
            target_id=pool_id,
            pool_id=pool_id,
            now=now,
            details=values,
        )
    services.pools.forget(pool_id)
    return await get_pool(services, actor, pool_id)


async def get_password_floor(services: Services, actor: Actor) -> PasswordFloor:
    """The tenant's floor; pool admins read it too, to know what they may set."""
    await guard(services, actor, "pools.read", target_type="tenant", target_id=actor.tenant_id)
    async with services.db.read() as session:
        stored = await session.scalar(
            select(Tenant.password_floor).where(Tenant.id == actor.tenant_id)
        )
    return floor_from_config(stored)


async def set_password_floor(
    services: Services, actor: Actor, floor: PasswordFloor
) -> PasswordFloor:
    """Set the floor. Pools whose policy is below it enforce the floor from now on (their
    effective policy is raised rule by rule), so every pool's version is bumped."""
    await guard(services, actor, "pools.write", target_type="tenant", target_id=actor.tenant_id)
    if not tenant_wide(actor.principal):
        raise Forbidden("pools.write")
    stored = {k: v for k, v in msgspec.structs.asdict(floor).items() if v is not None}
    now = services.clock.now()
    async with services.db.write() as session:
        await session.execute(
            update(Tenant).where(Tenant.id == actor.tenant_id).values(password_floor=stored)
        )
        pools = list(
            (
                await session.execute(select(Pool.id).where(Pool.tenant_id == actor.tenant_id))
            ).scalars()
        )
        await session.execute(
            update(Pool)
            .where(Pool.tenant_id == actor.tenant_id)
            .values(version=Pool.version + 1, updated_at=now)
        )
        await audit.record(
            session,
            actor,
            "tenant.password_floor",
            target_type="tenant",
            target_id=actor.tenant_id,
            pool_id=None,
            now=now,
            details={"floor": stored},
        )
    for pool_id in pools:
        services.pools.forget(pool_id)
    return floor_from_config(stored)


async def set_pool_policy(
    services: Services, actor: Actor, pool_id: str, policy: dict[str, Any]
) -> PoolDetail:
    """A pool's password policy, set by a tenant admin or, when the tenant lets it, by the
    pool's own admin; never below the tenant's floor (``password_policy.<rule>``)."""
    pool = await guarded_pool(services, actor, "pools.read", pool_id)
    principal = actor.principal
    delegated = principal.role == "pool_admin" and pool.admins_may_set_policy
    if principal.role != "tenant_admin" and not delegated:
        await record_denied(
            services.db,
            actor,
            "pool.policy",
            target_type="pool",
            target_id=pool_id,
            pool_id=pool_id,
            now=services.clock.now(),
        )
        raise Forbidden("pools.write")
    problems = Problems()
    problems.check_policy("password_policy", policy)
    now = services.clock.now()
    async with services.db.write() as session:
        if not problems.by_field:
            await check_floor(session, actor.tenant_id, policy, problems)
        problems.raise_if_any()
        await session.execute(
            update(Pool)
            .where(Pool.id == pool_id)
            .values(password_policy=policy, version=Pool.version + 1, updated_at=now)
        )
        await audit.record(
            session,
            actor,
            "pool.policy",
            target_type="pool",
            target_id=pool_id,
            pool_id=pool_id,
            now=now,
            details={"policy": policy},
        )
    services.pools.forget(pool_id)
    return await get_pool(services, actor, pool_id)
