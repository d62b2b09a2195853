"""Who may hash, decided before any expensive work: a seat in the hashing line.

A request that is going to hash (a registration step that carries a password, a login)
asks ``HashingPool.admit`` for a ``Seat`` before its input is validated or anything is
rendered. The pool admits it while the **expected wait** (the hashes ahead of it:
queued, running and admitted, times the measured seconds per hash) stays within
``max_wait_seconds``; otherwise it refuses at once with ``Overloaded(retry_after)``.
A count of waiting callers could not say that: how long 256 hashes take depends on the
machine, its load and the argon2 parameters, and the person only cares about the time.

``retry_after`` is the refused person's real place in line. People refused earlier and
told to come back are in line too (``Line``): without them, everyone refused in the same
second would be told the same time and come back as a herd, to be refused again. With
them, each is told a later second than the one before, so they come back at about the
pace the pool hashes, each when the queue ahead of them has drained to half the bound
(``max_wait_seconds / 2``, room for the client's jitter and the rounding up to whole
seconds). The widget waits ``retry_after`` plus a random 0-10 % of it plus up to 1 s.

An admitted request then waits for its ``turn`` before validating: it validates and
hands its hash over only while fewer than ``TURN_AHEAD_SECONDS`` of hashing are queued.
A burst's admitted requests thus run their Python at the pace of the hash threads
instead of all at once, which would keep the event loop (and every cheap page and
refusal behind it) busy for a second or more. A seat is held in a ``with`` block; the
pool's ``_submit`` finds it through a context variable (the flow code below the handler
does not carry HTTP concerns), takes it for the request's first hash, and never refuses
a later hash of the same admitted request (a login's rehash).
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import deque
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from widget_server.passwords.hashing import HashingPool

#: How far ahead of the hash threads admitted requests validate and queue their hashes.
#: Enough for the threads never to run dry while the event loop validates the next ones
#: (it wakes once per few finished hashes); little enough that a burst's validation is
#: spread over the burst. At 9 ms of pool time per hash this is ~28 requests.
TURN_AHEAD_SECONDS = 0.25

_SEAT: ContextVar[Seat | None] = ContextVar("widget_hash_seat", default=None)


def current_seat() -> Seat | None:
    """The seat of the request running in this context, if it took one."""
    return _SEAT.get()


class Seat:
    """One admitted request's place in the hashing line, from ``HashingPool.admit``.

    Use as ``with seat: await seat.turn(); ...``; leaving the block gives the place back
    if no hash took it (the input was invalid, the client went away)."""

    __slots__ = ("_token", "held", "pool", "turned")

    def __init__(self, pool: HashingPool) -> None:
        self.pool = pool
        self.held = True  # counted as admitted: no hash has taken it, not given back
        self.turned = False  # its turn came: it counts as work about to be queued
        self._token: Token[Seat | None] | None = None

    def __enter__(self) -> Seat:
        self._token = _SEAT.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _SEAT.reset(self._token)
            self._token = None
        self.pool._leave(self)

    async def turn(self) -> None:
        """Wait until the hash threads are close enough to this request (see module doc)."""
        await self.pool._turn(self)


class Line:
    """People refused and told to come back, counted by the second they were told.

    Memory is one counter per distinct second still ahead, whatever the number of
    people: bounded by the longest ``retry_after`` given, not by the crowd. Someone who
    gives up drops out of the count when their second has passed."""

    def __init__(self) -> None:
        self._by_second: dict[int, int] = {}
        self._seconds: list[int] = []  # heap of the keys of _by_second
        self._total = 0

    def waiting(self, now: float) -> int:
        """How many were told to come back after ``now``."""
        while self._seconds and self._seconds[0] <= now:
            self._total -= self._by_second.pop(heapq.heappop(self._seconds))
        return self._total

    def book(self, at: float) -> None:
        second = math.ceil(at)
        if second not in self._by_second:
            self._by_second[second] = 0
            heapq.heappush(self._seconds, second)
        self._by_second[second] += 1
        self._total += 1


class Turns:
    """Admitted requests waiting for their turn, first come first served."""

    def __init__(self) -> None:
        self._waiting: deque[tuple[Seat, asyncio.Future[None]]] = deque()
        self.in_turn = 0  # seats whose turn came and whose hash is not queued yet

    def __len__(self) -> int:
        return len(self._waiting)

    def give(self, seat: Seat) -> None:
        seat.turned = True
        self.in_turn += 1

    def end(self, seat: Seat) -> None:
        """``seat`` queued its hash, or left: it no longer counts as about to hash."""
        if seat.turned:
            seat.turned = False
            self.in_turn -= 1

    async def wait(self, seat: Seat) -> None:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((seat, future))
        await future  # cancelled: grant() skips it; the seat's ``with`` gives it back

    def grant(self, room: int) -> None:
        """Wake the first waiters while fewer than ``room`` hashes are about to run."""
        while self._waiting and self.in_turn < room:
            seat, future = self._waiting.popleft()
            if not future.done():
                self.give(seat)
                future.set_result(None)

    def cancel_all(self) -> None:
        while self._waiting:
            self._waiting.popleft()[1].cancel()
