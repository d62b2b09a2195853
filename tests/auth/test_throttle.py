"""Login throttling (auth/throttle.py) on both stores: delays, no permanent lockout, races.

Redis cases use ``TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0) under a key prefix of
their own; they skip when Redis is unreachable, unless ``TEST_REQUIRE_REDIS=1`` (set by
``.ci/run``), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from widget_server.auth.throttle import (
    Delays,
    Limit,
    LoginLimits,
    LoginThrottle,
    MemoryStore,
    RedisStore,
    ThrottleStore,
    make_store,
)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = 1_800_000_000.0


async def _redis_store(delays: Delays) -> RedisStore:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError):
        await client.aclose()
        if os.environ.get("TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (TEST_REQUIRE_REDIS=1) but {REDIS_URL} is unreachable")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return RedisStore(client, delays, prefix=f"test:{uuid.uuid4().hex}:")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ThrottleStore]:
    delays = Delays(cap=900.0, forget=3600.0)
    made: ThrottleStore = (
        MemoryStore(delays) if request.param == "memory" else await _redis_store(delays)
    )
    try:
        yield made
    finally:
        await made.close()


ACCOUNT = [Limit("a:x", 5)]


async def test_free_attempts_then_doubling_waits(store: ThrottleStore) -> None:
    for _ in range(5):
        assert await store.acquire(ACCOUNT, T0) == 0
    now = T0
    for expected in (1, 2, 4, 8, 16):
        wait = await store.acquire(ACCOUNT, now)
        assert wait == pytest.approx(expected, abs=0.01)
        # Asking again during the wait is refused and not counted: the wait does not grow.
        assert await store.acquire(ACCOUNT, now + expected / 2) == pytest.approx(
            expected / 2, abs=0.01
        )
        now += expected
        assert await store.acquire(ACCOUNT, now) == 0


async def test_the_longest_wait_is_the_cap(store: ThrottleStore) -> None:
    now, waits = T0, []
    for _ in range(20):
        wait = await store.acquire(ACCOUNT, now)
        if wait:
            waits.append(round(wait))
            now += wait
            # After every wait, however long, one more attempt passes: no permanent lockout.
            assert await store.acquire(ACCOUNT, now) == 0
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900]


async def test_an_idle_counter_starts_again(store: ThrottleStore) -> None:
    for _ in range(6):
        await store.acquire(ACCOUNT, T0)
    later = T0 + 3600 + 900 + 1
    for _ in range(5):
        assert await store.acquire(ACCOUNT, later) == 0


async def test_reset_and_give_back(store: ThrottleStore) -> None:
    for _ in range(4):
        assert await store.acquire(ACCOUNT, T0) == 0
    await store.give_back("a:x")
    await store.give_back("a:x")
    # Two given back: three more pass before the fifth counted one starts the waits.
    for _ in range(3):
        assert await store.acquire(ACCOUNT, T0) == 0
    assert await store.acquire(ACCOUNT, T0) > 0
    await store.reset("a:x")
    assert await store.acquire(ACCOUNT, T0) == 0
    await store.give_back("a:unknown")  # harmless on a counter that does not exist


async def test_a_waiting_counter_counts_nothing_on_the_others(store: ThrottleStore) -> None:
    ip = Limit("i:1", 2)
    for _ in range(2):
        assert await store.acquire([ip], T0) == 0
    assert await store.acquire([Limit("a:y", 5), ip], T0) > 0
    # a:y was not counted while the IP waited: all five are still free.
    for _ in range(5):
        assert await store.acquire([Limit("a:y", 5)], T0) == 0
    assert await store.acquire([Limit("a:y", 5)], T0) > 0


async def test_parallel_attempts_never_exceed_the_allowance(store: ThrottleStore) -> None:
    results = await asyncio.gather(*(store.acquire(ACCOUNT, T0) for _ in range(50)))
    assert sum(1 for r in results if r == 0) == 5


async def test_login_throttle_keys_hide_the_identifier(store: ThrottleStore) -> None:
    now = [T0]
    throttle = LoginThrottle(store, "k", LoginLimits(per_identifier=3, per_ip=10), lambda: now[0])
    for _ in range(3):
        assert await throttle.attempt("p", "ada@example.com", "203.0.113.1") == 0
    assert await throttle.attempt("p", "ada@example.com", "203.0.113.1") == 1
    # Another address, or the same account from another IP, has its own counter.
    assert await throttle.attempt("p", "bob@example.com", "203.0.113.1") == 0
    assert await throttle.attempt("p", "ada@example.com", "198.51.100.9") == 0
    account, _ = throttle._keys("p", "ada@example.com", "203.0.113.1")
    assert "ada" not in account and "example" not in account
    await throttle.succeeded("p", "ada@example.com", "203.0.113.1")
    assert await throttle.attempt("p", "ada@example.com", "203.0.113.1") == 0


async def test_successes_do_not_fill_the_ip_counter(store: ThrottleStore) -> None:
    throttle = LoginThrottle(store, "k", LoginLimits(per_identifier=5, per_ip=3), lambda: T0)
    for n in range(20):
        assert await throttle.attempt("p", f"user{n}@example.com", "192.0.2.1") == 0
        await throttle.succeeded("p", f"user{n}@example.com", "192.0.2.1")
    for n in range(3):
        assert await throttle.attempt("p", f"x{n}@example.com", "192.0.2.1") == 0
    assert await throttle.attempt("p", "y@example.com", "192.0.2.1") > 0


async def test_memory_store_forgets_idle_counters() -> None:
    store = MemoryStore(Delays(cap=1, forget=1), max_keys=10)
    for n in range(11):
        await store.acquire([Limit(f"k{n}", 5)], T0)
    await store.acquire([Limit("late", 5)], T0 + 10)
    assert set(store._counters) == {"late"}


def test_make_store_chooses_by_url() -> None:
    assert isinstance(make_store(""), MemoryStore)
    assert isinstance(make_store("redis://127.0.0.1:6379/0"), RedisStore)
