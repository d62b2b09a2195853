"""Which pools a theme change reaches, and making every process see it at once.

A pool's theme layers are read with the pool (``PoolDirectory``) and everything derived
from them is cached by (pool, version): the resolved theme, its stylesheet (whose URL
carries the version), the rendered forms. So a publish or an assignment bumps the
version of every pool whose pages it changes, in the same transaction; after the commit
``forget`` drops those pools here and tells every other process to drop them too
(``changes.py``: PostgreSQL NOTIFY, milliseconds), which then reload them and find the
new version. Their short pool cache (``pools.CACHE_SECONDS``) is only the backstop.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import App, Pool, ThemeAssignment
from widget_server.services import Services


async def pools_reached(
    session: AsyncSession, tenant_id: str, targets: Iterable[tuple[str, str]]
) -> set[str]:
    """Pools whose pages show the layer of any (level, target id) of ``targets``."""
    found: set[str] = set()
    for level, target_id in targets:
        if level == "pool":
            found.add(target_id)
            continue
        if level == "app":
            pool_ids = await session.scalar(
                select(App.pool_ids).where(App.id == target_id, App.tenant_id == tenant_id)
            )
            found.update(pool_ids or ())
            continue
        query = select(Pool.id).where(Pool.tenant_id == tenant_id)
        if level == "workspace":
            query = query.where(Pool.workspace_id == target_id)
        found.update((await session.execute(query)).scalars())
    return found


async def theme_reach(session: AsyncSession, tenant_id: str, theme_id: str) -> set[str]:
    """Pools whose pages show ``theme_id`` wherever it is assigned."""
    rows = await session.execute(
        select(ThemeAssignment.level, ThemeAssignment.target_id).where(
            ThemeAssignment.theme_id == theme_id
        )
    )
    return await pools_reached(session, tenant_id, [(level, target) for level, target in rows])


async def bump(session: AsyncSession, pool_ids: Iterable[str], now: datetime) -> list[str]:
    """A new version for each pool (in the caller's transaction); returns them sorted."""
    ids = sorted(set(pool_ids))
    if ids:
        await session.execute(
            update(Pool).where(Pool.id.in_(ids)).values(version=Pool.version + 1, updated_at=now)
        )
    return ids


def forget(services: Services, pool_ids: Iterable[str]) -> None:
    """After the commit: every process drops its snapshots now (``PoolDirectory.forget``)."""
    for pool_id in pool_ids:
        services.pools.forget(pool_id)
