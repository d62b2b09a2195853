"""Hashing: argon2id round trips and the bounded pool that keeps it off the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator

import anyio
import anyio.to_thread
import pytest

from widget_server.errors import Overloaded
from widget_server.passwords.hashing import FIRST_GUESS_SECONDS, Argon2Hasher, HashingPool
from widget_server.passwords.policy import HARD_CAP

FAST = Argon2Hasher.fast_for_tests()


class BlockingHasher:
    """Holds every call in its thread until ``release`` is set, counting how many overlap."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.hashes = 0
        self.verifies = 0

    def _block(self) -> None:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            # The timeout only keeps a broken test from hanging the run.
            self.release.wait(timeout=10)
        finally:
            with self._lock:
                self.active -= 1

    def hash(self, password: str) -> str:
        self.hashes += 1
        self._block()
        return f"stub${password}"

    def verify(self, hash: str, password: str) -> bool:
        self.verifies += 1
        self._block()
        return hash == f"stub${password}"

    def needs_rehash(self, hash: str) -> bool:
        return False


@pytest.fixture
def stub() -> Iterator[BlockingHasher]:
    hasher = BlockingHasher()
    yield hasher
    hasher.release.set()


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


# Argon2Hasher --------------------------------------------------------------------------


def test_round_trip_and_wrong_password() -> None:
    hashed = FAST.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert FAST.verify(hashed, "correct horse")
    assert not FAST.verify(hashed, "correct horse!")


def test_same_password_hashes_differently() -> None:
    assert FAST.hash("same") != FAST.hash("same")


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "$argon2id$v=19$m=8,t=1,p=1$bad$bad", "$argon2id$é", "pbkdf2_sha256$1$x$y"],
)
def test_unreadable_hash_is_a_mismatch_not_an_error(garbage: str) -> None:
    assert FAST.verify(garbage, "anything") is False
    assert FAST.needs_rehash(garbage) is True


def test_needs_rehash_after_parameters_change() -> None:
    hashed = FAST.hash("pw")
    assert not FAST.needs_rehash(hashed)
    assert Argon2Hasher(time_cost=2, memory_kib=8).needs_rehash(hashed)
    assert Argon2Hasher(time_cost=1, memory_kib=16).needs_rehash(hashed)
    # An old hash still verifies under the new parameters; that is what lets us upgrade it.
    assert Argon2Hasher(time_cost=2, memory_kib=16).verify(hashed, "pw")


def test_defaults_are_owasp_argon2id() -> None:
    hashed = Argon2Hasher().hash("pw")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


# HashingPool ---------------------------------------------------------------------------


async def test_pool_round_trip_and_rehash_flag() -> None:
    pool = HashingPool(FAST, slots=2)
    hashed = await pool.hash("pw")
    assert await pool.verify(hashed, "pw") == (True, False)
    assert await pool.verify(hashed, "nope") == (False, False)
    assert await pool.verify("garbage", "pw") == (False, False)

    stronger = HashingPool(Argon2Hasher(time_cost=2, memory_kib=16), slots=1)
    assert await stronger.verify(hashed, "pw") == (True, True)
    assert await stronger.verify(hashed, "nope") == (False, False)


def test_default_slots_is_one_per_core_this_process_may_use() -> None:
    assert HashingPool(FAST).slots == len(os.sched_getaffinity(0))


def test_pool_refuses_nonsense_sizes() -> None:
    with pytest.raises(ValueError):
        HashingPool(FAST, slots=0)
    with pytest.raises(ValueError):
        HashingPool(FAST, slots=1, max_wait_seconds=-1)
    with pytest.raises(ValueError):
        HashingPool(FAST, slots=1, refuse_every=-1)


async def test_over_long_passwords_are_never_hashed() -> None:
    hasher = BlockingHasher()
    hasher.release.set()
    pool = HashingPool(hasher, slots=1)
    huge = "x" * (HARD_CAP + 1)
    assert await pool.verify("stub$x", huge) == (False, False)
    await pool.verify_dummy(huge)
    with pytest.raises(ValueError):
        await pool.hash(huge)
    assert hasher.hashes == hasher.verifies == 0


async def test_verify_dummy_costs_one_hash_then_one_verify_each_time() -> None:
    hasher = BlockingHasher()
    hasher.release.set()
    pool = HashingPool(hasher, slots=1)
    await pool.verify_dummy("guess")
    assert (hasher.hashes, hasher.verifies) == (1, 0)
    await pool.verify_dummy("guess")
    await pool.verify_dummy("other")
    assert (hasher.hashes, hasher.verifies) == (1, 2)


async def test_verify_dummy_with_argon2_completes_quietly() -> None:
    pool = HashingPool(FAST, slots=1)
    await pool.verify_dummy("guess")
    await pool.verify_dummy("guess")


async def test_saturated_pool_raises_overloaded_at_once(stub: BlockingHasher) -> None:
    # Nothing timed yet: FIRST_GUESS_SECONDS per hash, so two hashes ahead are 0.1 s.
    pool = HashingPool(stub, slots=1, max_wait_seconds=FIRST_GUESS_SECONDS * 2.5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.hash, "running")
        await until(lambda: stub.active == 1)
        tg.start_soon(pool.hash, "queued")
        await until(lambda: pool.waiting == 1)

        with pytest.raises(Overloaded) as raised:
            await pool.hash("x")
        assert raised.value.retry_after == 1
        with pytest.raises(Overloaded):
            await pool.verify("h", "x")
        with pytest.raises(Overloaded):
            await pool.verify_dummy("x")
        assert stub.hashes == 1  # the refused calls never reached a thread

        stub.release.set()
    assert (pool.running, pool.waiting) == (0, 0)
    assert await pool.hash("again") == "stub$again"


async def test_concurrency_never_exceeds_slots(stub: BlockingHasher) -> None:
    pool = HashingPool(stub, slots=3)
    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(pool.hash, str(i))
        await until(lambda: stub.active == 3 and pool.waiting == 17)
        await anyio.sleep(0.02)
        assert (stub.active, pool.running) == (3, 3)
        stub.release.set()
    assert (stub.peak, stub.hashes) == (3, 20)


async def test_pool_does_not_use_anyios_shared_thread_limiter(stub: BlockingHasher) -> None:
    pool = HashingPool(stub, slots=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.hash, "a")
        tg.start_soon(pool.hash, "b")
        await until(lambda: stub.active == 2)
        assert anyio.to_thread.current_default_thread_limiter().borrowed_tokens == 0
        stub.release.set()


async def test_waiting_count_recovers_after_cancellation(stub: BlockingHasher) -> None:
    pool = HashingPool(stub, slots=1, max_wait_seconds=FIRST_GUESS_SECONDS * 2.5)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.hash, "running")
        await until(lambda: stub.active == 1)

        for _ in range(5):
            scope = anyio.CancelScope()

            async def queued(scope: anyio.CancelScope = scope) -> None:
                with scope:
                    await pool.hash("queued")

            tg.start_soon(queued)
            await until(lambda: pool.waiting == 1)
            scope.cancel()
            await until(lambda: pool.waiting == 0)

        # The freed place in the queue can be taken again.
        tg.start_soon(pool.hash, "later")
        await until(lambda: pool.waiting == 1)
        stub.release.set()
    assert (pool.running, pool.waiting, stub.hashes) == (0, 0, 2)


async def test_cancelled_running_hash_keeps_its_slot_until_the_thread_ends(
    stub: BlockingHasher,
) -> None:
    pool = HashingPool(stub, slots=1, max_wait_seconds=FIRST_GUESS_SECONDS * 1.5)
    async with anyio.create_task_group() as tg:
        scope = anyio.CancelScope()

        async def running() -> None:
            with scope:
                await pool.hash("running")

        tg.start_soon(running)
        await until(lambda: stub.active == 1)
        scope.cancel()
        await anyio.sleep(0.02)
        # The thread still holds a core, so the pool must still count it as busy.
        assert pool.running == 1
        with pytest.raises(Overloaded):
            await pool.hash("x")
        stub.release.set()
    # The cancelled caller returned at once; its slot is free when its thread ends.
    await until(lambda: (pool.running, pool.waiting) == (0, 0))
    assert stub.active == 0
    assert await pool.hash("again") == "stub$again"


async def test_close_drops_queued_work_and_lets_the_running_hash_finish(
    stub: BlockingHasher,
) -> None:
    pool = HashingPool(stub, slots=1)
    running = asyncio.create_task(pool.hash("running"))
    await until(lambda: stub.active == 1)
    queued = asyncio.create_task(pool.hash("queued"))
    await until(lambda: pool.waiting == 1)
    pool.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(queued, 5)
    stub.release.set()
    assert await asyncio.wait_for(running, 5) == "stub$running"
    assert stub.hashes == 1
    assert (pool.running, pool.waiting) == (0, 0)
    with pytest.raises(RuntimeError):
        await pool.hash("after close")


async def test_an_error_in_the_thread_reaches_the_caller() -> None:
    pool = HashingPool(FAST, slots=1)

    def fail(_hashed: str) -> None:
        raise LookupError("from the thread")

    with pytest.raises(LookupError, match="from the thread"):
        await pool.hash_then("pw", fail)
    assert await pool.hash_then("pw", lambda hashed: FAST.verify(hashed, "pw")) is True
    pool.close()


# Handing results back in batches -------------------------------------------------------


class GatedHasher:
    """Each hash waits in its thread until the test opens the gate named by its password."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.started: list[str] = []

    def gate(self, password: str) -> threading.Event:
        return self.gates.setdefault(password, threading.Event())

    def hash(self, password: str) -> str:
        self.started.append(password)
        # The timeout only keeps a broken test from hanging the run.
        self.gate(password).wait(timeout=10)
        return f"stub${password}"

    def verify(self, hash: str, password: str) -> bool:
        return hash == self.hash(password)

    def needs_rehash(self, hash: str) -> bool:
        return False


@pytest.fixture
def gated() -> Iterator[GatedHasher]:
    hasher = GatedHasher()
    yield hasher
    for name in ("j1", "j2", "j3", "j4", "j5"):
        hasher.gate(name).set()


async def settled_soon(task: asyncio.Task[str]) -> bool:
    """Whether ``task`` is done after the thread has had time to hand its result back."""
    await asyncio.sleep(0.05)
    return task.done()


async def test_results_go_back_together_while_more_work_is_queued(gated: GatedHasher) -> None:
    pool = HashingPool(gated, slots=1, hand_back=3)
    tasks = [asyncio.create_task(pool.hash(f"j{i}")) for i in range(1, 6)]
    await until(lambda: gated.started == ["j1"])
    gated.gate("j1").set()
    await until(lambda: gated.started == ["j1", "j2"])
    assert not await settled_soon(tasks[0])  # held: three more are queued
    gated.gate("j2").set()
    await until(lambda: len(gated.started) == 3)
    assert not await settled_soon(tasks[0]) and not tasks[1].done()
    gated.gate("j3").set()
    # The third result: all three go back in one go.
    await until(lambda: all(t.done() for t in tasks[:3]))
    assert [t.result() for t in tasks[:3]] == ["stub$j1", "stub$j2", "stub$j3"]
    gated.gate("j4").set()
    await until(lambda: len(gated.started) == 5)
    assert not await settled_soon(tasks[3])  # held: j5 was queued when j4 finished
    gated.gate("j5").set()
    # The last of the burst: nothing is queued, so everything held goes back at once.
    assert await asyncio.wait_for(asyncio.gather(*tasks[3:]), 5) == ["stub$j4", "stub$j5"]
    pool.close()


async def test_a_result_with_nothing_queued_behind_it_goes_back_at_once(
    gated: GatedHasher,
) -> None:
    pool = HashingPool(gated, slots=2, hand_back=4)
    first = asyncio.create_task(pool.hash("j1"))
    second = asyncio.create_task(pool.hash("j2"))
    await until(lambda: len(gated.started) == 2)
    gated.gate("j1").set()
    # j2 is running, not queued: the pool does not hold j1 for it.
    assert await asyncio.wait_for(first, 5) == "stub$j1"
    assert not second.done()
    gated.gate("j2").set()
    assert await asyncio.wait_for(second, 5) == "stub$j2"
    pool.close()


async def test_a_held_result_goes_back_when_the_job_behind_it_is_cancelled(
    gated: GatedHasher,
) -> None:
    pool = HashingPool(gated, slots=1, hand_back=3)
    first = asyncio.create_task(pool.hash("j1"))
    await until(lambda: gated.started == ["j1"])
    queued = asyncio.create_task(pool.hash("j2"))
    await until(lambda: pool.waiting == 1)
    queued.cancel()  # dropped from the queue before it runs
    with pytest.raises(asyncio.CancelledError):
        await queued
    gated.gate("j1").set()
    assert await asyncio.wait_for(first, 5) == "stub$j1"
    assert gated.started == ["j1"] and (pool.running, pool.waiting) == (0, 0)
    pool.close()


async def test_a_held_result_goes_back_when_the_pool_closes(gated: GatedHasher) -> None:
    pool = HashingPool(gated, slots=1, hand_back=3)
    first = asyncio.create_task(pool.hash("j1"))
    await until(lambda: gated.started == ["j1"])
    second = asyncio.create_task(pool.hash("j2"))
    third = asyncio.create_task(pool.hash("j3"))
    await until(lambda: pool.waiting == 2)
    gated.gate("j1").set()
    await until(lambda: gated.started == ["j1", "j2"])
    assert not await settled_soon(first)  # held: j3 is queued
    pool.close()  # drops j3; j2 runs on
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(third, 5)
    assert not first.done()
    gated.gate("j2").set()
    # The thread ends after j2 and hands back everything it held.
    assert await asyncio.wait_for(asyncio.gather(first, second), 5) == ["stub$j1", "stub$j2"]
    assert gated.started == ["j1", "j2"]


def test_hand_back_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HashingPool(FAST, slots=1, hand_back=0)


async def test_then_runs_in_the_pools_threads_once_per_hash_even_for_a_caller_gone(
    gated: GatedHasher,
) -> None:
    pool = HashingPool(gated, slots=1, hand_back=3)
    stored: list[tuple[str, str]] = []

    def store(hashed: str) -> str:
        stored.append((hashed, threading.current_thread().name))
        return hashed.upper()

    first = asyncio.create_task(pool.hash_then("j1", store))
    await until(lambda: gated.started == ["j1"])
    gone = asyncio.create_task(pool.hash_then("j2", store))
    last = asyncio.create_task(pool.hash_then("j3", store))
    await until(lambda: pool.waiting == 2)
    gated.gate("j1").set()
    await until(lambda: len(gated.started) == 2)
    gone.cancel()  # j2 is running: it cannot be dropped, its store still happens
    gated.gate("j2").set()
    gated.gate("j3").set()
    assert await asyncio.wait_for(first, 5) == "STUB$J1"
    assert await asyncio.wait_for(last, 5) == "STUB$J3"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert [hashed for hashed, _ in stored] == ["stub$j1", "stub$j2", "stub$j3"]
    assert {thread for _, thread in stored} == {"argon2_0"}
    pool.close()
