"""A developer's scope: one or more pools of the tenant, or one workspace.

The pools are rows of ``admin_principal_pools`` (``access.load_principal`` reads them);
invitations keep theirs in ``developer_invitation_pools`` until accepted. Both the
administrators' API (``principals``) and invitations (``developer_invitations``) check a
requested set here, so "several pools" means the same everywhere: known pools of the
caller's tenant, each named once, at most ``MAX_POOLS``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin.validation import Problems
from widget_server.models import AdminPrincipalPool, Pool

#: More pools than any partner has; a bound on the rows one request may write.
MAX_POOLS = 50
#: How ``admin.role_scope`` words a developer's scope.
SCOPE_WORDS = "one or more pools, or one workspace"


def requested(pool_id: str | None, pool_ids: Sequence[str] | None) -> list[str] | None:
    """``pool_id`` and ``pool_ids`` as one list, each pool once, in the order given; None
    when neither names a pool."""
    given = ([pool_id] if pool_id is not None else []) + list(pool_ids or ())
    return list(dict.fromkeys(given)) if given else None


async def check_pools(
    session: AsyncSession,
    tenant_id: str,
    pools: Sequence[str],
    problems: Problems,
    field: str = "pool_ids",
) -> list[str]:
    """The pools, sorted, if each is a pool of ``tenant_id``; problems on ``field``
    otherwise (a pool of another tenant reads like one that does not exist)."""
    if len(pools) > MAX_POOLS:
        problems.add(field, "admin.too_many", limit=MAX_POOLS)
        return []
    wanted = sorted({p[:64] for p in pools if isinstance(p, str)})
    known = set(
        (
            await session.execute(
                select(Pool.id).where(Pool.tenant_id == tenant_id, Pool.id.in_(wanted))
            )
        ).scalars()
    )
    if len(known) != len(wanted) or len(wanted) != len(pools):
        problems.add(field, "admin.unknown_pool")
        return []
    return wanted


async def store_pools(session: AsyncSession, principal_id: str, pools: Iterable[str]) -> None:
    """Make ``pools`` the developer's pool set (replacing what it had)."""
    await session.execute(
        delete(AdminPrincipalPool).where(AdminPrincipalPool.principal_id == principal_id)
    )
    session.add_all(AdminPrincipalPool(principal_id=principal_id, pool_id=p) for p in pools)
    await session.flush()


async def pools_by_principal(
    session: AsyncSession, principal_ids: Iterable[str]
) -> dict[str, list[str]]:
    ids = list(principal_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(AdminPrincipalPool.principal_id, AdminPrincipalPool.pool_id)
        .where(AdminPrincipalPool.principal_id.in_(ids))
        .order_by(AdminPrincipalPool.pool_id)
    )
    found: dict[str, list[str]] = {}
    for principal_id, pool_id in rows:
        found.setdefault(principal_id, []).append(pool_id)
    return found
