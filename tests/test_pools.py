"""PoolDirectory: one load per pool at a time, shared by the requests that wait for it."""

from __future__ import annotations

import asyncio

import pytest

from widget_server.errors import PoolNotFound
from widget_server.pools import PoolDirectory, PoolView


class GatedDirectory(PoolDirectory):
    """Loads wait for ``gate``; each returns a view whose version counts the loads."""

    def __init__(self) -> None:
        super().__init__(None)  # type: ignore[arg-type]  # _load below needs no database
        self.gate = asyncio.Event()
        self.loads: list[str] = []
        self.missing: set[str] = set()

    async def _load(self, pool_id: str) -> PoolView:
        self.loads.append(pool_id)
        await self.gate.wait()
        if pool_id in self.missing:
            raise PoolNotFound()
        return _view(pool_id, version=len(self.loads))


def _view(pool_id: str, version: int) -> PoolView:
    from widget_server.passwords.policy import policy_from_config

    return PoolView(
        id=pool_id,
        tenant_id="t",
        name=pool_id,
        version=version,
        schema={},
        policy=policy_from_config({}),
        activation_methods=("email",),
        self_registration=True,
        allowed_origins=(),
        theme_layers=(),
    )


async def test_requests_that_find_the_cache_cold_share_one_load() -> None:
    pools = GatedDirectory()
    waiters = [asyncio.create_task(pools.get("p")) for _ in range(32)]
    await asyncio.sleep(0)
    pools.gate.set()
    views = await asyncio.gather(*waiters)
    assert pools.loads == ["p"]
    assert {id(v) for v in views} == {id(views[0])}
    assert await pools.get("p") is views[0]  # cached now
    assert pools.loads == ["p"]


async def test_a_missing_pool_fails_every_waiter_and_is_not_cached() -> None:
    pools = GatedDirectory()
    pools.missing.add("gone")
    waiters = [asyncio.create_task(pools.get("gone")) for _ in range(5)]
    await asyncio.sleep(0)
    pools.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, PoolNotFound) for r in results)
    assert pools.loads == ["gone"]
    with pytest.raises(PoolNotFound):
        await pools.get("gone")
    assert pools.loads == ["gone", "gone"]


async def test_a_cancelled_waiter_leaves_the_load_to_the_others() -> None:
    pools = GatedDirectory()
    first, second = asyncio.create_task(pools.get("p")), asyncio.create_task(pools.get("p"))
    await asyncio.sleep(0)
    first.cancel()
    pools.gate.set()
    assert (await second).id == "p"
    assert first.cancelled()
    assert pools.loads == ["p"]


async def test_forget_during_a_load_keeps_that_load_out_of_the_cache() -> None:
    """An admin change (``forget``) while a load runs: the load may have read the old row,
    so the next request loads again instead of trusting it."""
    pools = GatedDirectory()
    early = asyncio.create_task(pools.get("p"))
    await asyncio.sleep(0)
    pools.forget("p")
    late = asyncio.create_task(pools.get("p"))
    await asyncio.sleep(0)
    pools.gate.set()
    early_view, late_view = await early, await late
    assert pools.loads == ["p", "p"]
    assert await pools.get("p") is late_view
    assert early_view is not late_view


async def test_forgetting_another_pool_does_not_disturb_a_load() -> None:
    pools = GatedDirectory()
    task = asyncio.create_task(pools.get("p"))
    await asyncio.sleep(0)
    pools.forget("q")
    pools.gate.set()
    view = await task
    assert await pools.get("p") is view
    assert pools.loads == ["p"]


async def test_the_real_load_reads_the_seeded_pool(harness) -> None:
    pools = harness.web.services.pools
    pools.forget("partner-1")
    views = await asyncio.gather(*(pools.get("partner-1") for _ in range(8)))
    assert {v.id for v in views} == {"partner-1"}
    assert len({id(v) for v in views}) == 1
