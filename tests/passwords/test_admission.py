"""Admission to the hashing pool: a bounded expected wait at the measured rate, refusals
that tell each person their place in line, and admitted requests that take turns.

The hasher here moves an injected clock by a fixed cost per hash instead of hashing, so
the pool's measured seconds per hash, and every figure derived from it, are exact."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import anyio
import pytest

from widget_server.errors import Overloaded
from widget_server.passwords.admission import Line
from widget_server.passwords.hashing import HashingPool


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


class ClockedHasher:
    """Each hash costs ``cost`` seconds of the fake clock; while ``gate`` is closed,
    hashes wait for it first (without moving the clock: a held hash is not timed
    until it runs)."""

    def __init__(self, clock: FakeClock, cost: float) -> None:
        self.clock, self.cost = clock, cost
        self.gate = threading.Event()
        self.gate.set()
        self.started = 0

    def hash(self, password: str) -> str:
        self.started += 1
        self.gate.wait(timeout=10)  # the timeout only keeps a broken test from hanging
        self.clock.advance(self.cost)
        return f"h${password}"

    def verify(self, hash: str, password: str) -> bool:
        return hash == self.hash(password)

    def needs_rehash(self, hash: str) -> bool:
        return False


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hasher(clock: FakeClock) -> Iterator[ClockedHasher]:
    hasher = ClockedHasher(clock, cost=1.0)
    yield hasher
    hasher.gate.set()


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(5):
        while not condition():
            await anyio.sleep(0.001)


async def measured_pool(
    hasher: ClockedHasher, clock: FakeClock, *, slots: int, max_wait: float = 10.0
) -> HashingPool:
    """A pool that has timed one hash: ``hasher.cost`` per thread, shared by ``slots``."""
    pool = HashingPool(
        hasher, slots=slots, max_wait_seconds=max_wait, hand_back=1, clock=clock, work_clock=clock
    )
    await pool.hash("timing")
    return pool


async def test_the_expected_wait_is_the_work_ahead_at_the_measured_rate(
    hasher: ClockedHasher, clock: FakeClock
) -> None:
    pool = await measured_pool(hasher, clock, slots=2)
    # One hash kept a thread 1.0 s; two threads: 0.5 s of the pool per hash.
    assert pool.seconds_per_hash == 0.5
    assert pool.expected_wait() == 0.5  # only its own
    hasher.gate.clear()
    tasks = [asyncio.create_task(pool.hash(str(i))) for i in range(4)]
    await until(lambda: pool.running == 2 and pool.waiting == 2)
    seats = [pool.admit() for _ in range(3)]
    # 2 running + 2 queued + 3 admitted ahead, and itself.
    assert pool.expected_wait() == 8 * 0.5
    for seat in seats:
        with seat:
            pass  # given back unused: nothing hashed for them
    assert pool.admitted == 0 and pool.expected_wait() == 5 * 0.5
    hasher.gate.set()
    await asyncio.gather(*tasks)
    pool.close()


async def test_admission_stops_at_the_bound_and_refuses_at_once(
    hasher: ClockedHasher, clock: FakeClock
) -> None:
    pool = await measured_pool(hasher, clock, slots=2, max_wait=10.0)
    hasher.gate.clear()
    tasks = [asyncio.create_task(pool.hash(str(i))) for i in range(4)]
    await until(lambda: pool.running == 2 and pool.waiting == 2)
    # Admitted while (4 in the pool + n admitted before + itself) x 0.5 s <= 10 s: 16.
    seats = [pool.admit() for _ in range(16)]
    assert pool.expected_wait() == 10.5
    with pytest.raises(Overloaded) as refused:
        pool.admit()
    # Its place: 10.5 s away; back when half the bound (5 s) is left ahead of it.
    assert refused.value.retry_after == 6
    assert hasher.started == 3  # refusing hashed nothing (timing + two running)
    for seat in seats:
        seat.__exit__(None, None, None)
    hasher.gate.set()
    await asyncio.gather(*tasks)
    pool.close()


async def test_people_refused_together_are_told_successive_times(
    hasher: ClockedHasher, clock: FakeClock
) -> None:
    pool = await measured_pool(hasher, clock, slots=2, max_wait=10.0)
    hasher.gate.clear()
    tasks = [asyncio.create_task(pool.hash(str(i))) for i in range(4)]
    await until(lambda: pool.running == 2 and pool.waiting == 2)
    seats = [pool.admit() for _ in range(16)]

    def refused() -> int:
        with pytest.raises(Overloaded) as raised:
            pool.admit()
        return raised.value.retry_after

    # Each one is behind everyone told before them: 0.5 s more each, rounded up.
    assert [refused() for _ in range(6)] == [6, 6, 7, 7, 8, 8]
    # Once their times have passed, they are no longer counted as in line.
    clock.advance(9)
    assert refused() == 6
    for seat in seats:
        seat.__exit__(None, None, None)
    hasher.gate.set()
    await asyncio.gather(*tasks)
    pool.close()


async def test_a_refusal_with_little_ahead_says_one_second(
    hasher: ClockedHasher, clock: FakeClock
) -> None:
    pool = HashingPool(hasher, slots=1, clock=clock, work_clock=clock, refuse_every=2)
    for attempt in range(2):
        with pytest.raises(Overloaded) as refused:
            pool.admit()
        assert refused.value.retry_after == 1
        with pool.admit():
            assert await pool.hash(str(attempt)) == f"h${attempt}"
    pool.close()


async def test_an_admitted_request_takes_its_seat_with_its_hash_and_is_never_refused_midway(
    hasher: ClockedHasher, clock: FakeClock
) -> None:
    pool = await measured_pool(hasher, clock, slots=1, max_wait=3.0)
    seat = pool.admit()
    hasher.gate.clear()
    # Other requests (tasks made outside the seat's context: a task copies it).
    others = [asyncio.create_task(pool.hash(str(i))) for i in range(2)]
    await until(lambda: pool.running == 1 and pool.waiting == 1)
    # Past the bound now for anyone else ...
    with pytest.raises(Overloaded):
        await pool.hash("late")
    assert pool.admitted == 1
    with seat:
        # ... but not for the request admitted before: its hash takes its seat.
        mine = asyncio.create_task(pool.hash("mine"))
        await until(lambda: pool.waiting == 2)
        assert pool.admitted == 0
        hasher.gate.set()
        assert await mine == "h$mine"
        # A second hash of the same request (a login's rehash) is not refused either.
        assert await pool.hash("again") == "h$again"
        await asyncio.gather(*others)
    assert pool.admitted == 0
    pool.close()


async def test_admitted_requests_take_turns_in_order_as_hashes_finish(clock: FakeClock) -> None:
    hasher = ClockedHasher(clock, cost=1.0)
    pool = HashingPool(hasher, slots=1, hand_back=1, clock=clock, work_clock=clock)
    await pool.hash("timing")
    # At 1 s per hash the turn rule keeps 2 x slots x hand_back = 2 hashes ahead.
    hasher.gate.clear()
    running = [asyncio.create_task(pool.hash(str(i))) for i in range(2)]
    await until(lambda: pool.running == 1 and pool.waiting == 1)
    order: list[str] = []

    async def admitted(name: str) -> None:
        with pool.admit() as seat:
            await seat.turn()
            order.append(name)
            await pool.hash(name)

    first = asyncio.create_task(admitted("first"))
    second = asyncio.create_task(admitted("second"))
    await asyncio.sleep(0.05)
    assert order == [] and pool.admitted == 2  # both wait: two hashes are ahead already
    hasher.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second, *running), 5)
    assert order == ["first", "second"]
    assert pool.admitted == 0
    pool.close()


async def test_a_request_that_leaves_while_waiting_for_its_turn_gives_its_place_back(
    clock: FakeClock,
) -> None:
    hasher = ClockedHasher(clock, cost=1.0)
    pool = HashingPool(hasher, slots=1, hand_back=1, clock=clock, work_clock=clock)
    await pool.hash("timing")
    hasher.gate.clear()
    running = [asyncio.create_task(pool.hash(str(i))) for i in range(2)]
    await until(lambda: pool.running == 1 and pool.waiting == 1)

    async def admitted() -> None:
        with pool.admit() as seat:
            await seat.turn()
            await pool.hash("never")

    gone = asyncio.create_task(admitted())
    await until(lambda: pool.admitted == 1)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert pool.admitted == 0
    hasher.gate.set()
    await asyncio.gather(*running)
    assert hasher.started == 3  # the timing hash and the two running: "never" never ran
    pool.close()


async def test_the_rate_follows_the_machine(hasher: ClockedHasher, clock: FakeClock) -> None:
    pool = await measured_pool(hasher, clock, slots=1)
    assert pool.seconds_per_hash == 1.0
    hasher.cost = 2.0  # the host got slower
    for i in range(60):
        await pool.hash(str(i))
    assert 1.9 < pool.seconds_per_hash <= 2.0
    pool.close()


async def test_calibrate_times_the_second_of_two_hashes(clock: FakeClock) -> None:
    hasher = ClockedHasher(clock, cost=3.0)
    pool = HashingPool(hasher, slots=1, clock=clock, work_clock=clock)
    await pool.calibrate()
    assert pool.seconds_per_hash == 3.0 and hasher.started == 2
    # The second hash is the dummy hash verify_dummy needs: no third one.
    await pool.verify_dummy("guess")
    assert hasher.started == 3  # one verify
    pool.close()


def test_the_line_costs_one_counter_per_second_whatever_the_crowd() -> None:
    line = Line()
    for i in range(10_000):
        line.book(100.2 + (i % 3) * 0.3)  # all in the second ending at 101
    line.book(105.5)
    assert line.waiting(100.0) == 10_001
    assert len(line._by_second) == 2
    assert line.waiting(101.0) == 1  # the crowd's second has passed
    assert line.waiting(106.0) == 0 and not line._by_second


class WaitingHasher:
    """A hash that spends ``wait`` seconds blocked (as a thread does waiting for the GIL
    or a lock while a burst keeps the event loop busy) and ``work`` seconds computing."""

    def __init__(self, wait: float, work: float) -> None:
        self.wait, self.work = wait, work

    def hash(self, password: str) -> str:
        threading.Event().wait(self.wait)
        deadline = time.thread_time() + self.work
        while time.thread_time() < deadline:
            pass
        return f"h${password}"

    def verify(self, hash: str, password: str) -> bool:
        return hash == self.hash(password)

    def needs_rehash(self, hash: str) -> bool:
        return False


async def test_a_hash_is_timed_by_its_work_not_by_what_it_waited_for() -> None:
    """Admission and ``Retry-After`` go by the pool's rate: time a thread spent blocked
    is not work the next caller waits for (wall time doubled a burst's Retry-After and
    left the pool half idle). The real clocks, no injection."""
    pool = HashingPool(WaitingHasher(wait=0.3, work=0.02), slots=1, hand_back=1)
    try:
        for _ in range(3):
            await pool.hash("x")
        assert 0.015 <= pool.seconds_per_hash < 0.1
    finally:
        pool.close()
