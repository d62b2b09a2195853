"""Password hashing: argon2id behind a bounded pool of worker threads.

Hashing is CPU-bound (~17 ms at OWASP parameters) and releases the GIL, so it runs in
threads, never on the event loop: in the pool's own threads, one per slot (cores by
default). Who may hash is decided by the expected wait, before any expensive work
(``admission.py``): past ``max_wait_seconds`` of queued hashing the pool refuses at once
(``Overloaded``) with the refused person's real place in line as ``retry_after``, rather
than letting every request wait longer. The seconds per hash are measured here, on
this machine under its current load, not configured.

While more hashes are queued, finished ones go back to the event loop a few at a time
(``HAND_BACK``). Each hash sweeps 19 MiB through the CPU caches, so the event loop
woken after one runs its Python cold: handing results back one by one cost it 1.5 ms of
CPU per registration under a burst, four at a time 0.85 ms (the requests they lead to
then run together, on warm caches). A result waits for at most ``HAND_BACK - 1`` other
hashes, and only while callers queue anyway; the last of a burst goes back at once.
``hash_then``'s writes run with the batch too, one after another in one thread: 0.54 →
0.38 ms of CPU per registration's transaction, for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import secrets
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol, TypeVar, TypeVarTuple, cast

import argon2
from argon2.exceptions import VerificationError

from widget_server.errors import Overloaded
from widget_server.passwords.admission import TURN_AHEAD_SECONDS, Line, Seat, Turns, current_seat
from widget_server.passwords.policy import HARD_CAP
from widget_server.settings import cores

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

#: Finished hashes handed back to the event loop together while more are queued.
HAND_BACK = 4
#: Seconds one hash takes in one thread until the pool has timed its own
#: (``calibrate``): a slow host's figure (bench/README.md saw 16-54 ms), so that a pool
#: that has not hashed yet admits too few rather than too many.
FIRST_GUESS_SECONDS = 0.05
#: Weight of each new timing in the running estimate (about the last 20 hashes count):
#: it follows a host that slows down within seconds, and one slow hash moves it little.
SMOOTHING = 0.05


class PasswordHasher(Protocol):
    """Turns passwords into self-describing hash strings. Synchronous and CPU-bound."""

    def hash(self, password: str) -> str: ...

    def verify(self, hash: str, password: str) -> bool:
        """False on a wrong password or an unreadable hash; never raises for bad input."""
        ...

    def needs_rehash(self, hash: str) -> bool:
        """True when ``hash`` was made with other parameters than this hasher's."""
        ...


class HashObserver(Protocol):
    """Told what the pool does, for metrics (``observe/metrics.py``)."""

    def depth(self, hashes: int) -> None:
        """Hashes queued, running and admitted now (event loop)."""

    def refused(self) -> None:
        """A caller was refused with ``Overloaded`` (event loop)."""

    def waited(self, seconds: float) -> None:
        """A hash waited this long for a thread (called in the hashing thread)."""


class _Unobserved:
    def depth(self, hashes: int) -> None:
        pass

    def refused(self) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass


class Argon2Hasher:
    """argon2id; defaults are the OWASP minimum (m=19 MiB, t=2, p=1).

    p=1 because extra lanes cost several times the CPU per hash on small machines
    (docs/architecture.md) without making a single guess harder for an attacker.
    """

    def __init__(self, time_cost: int = 2, memory_kib: int = 19456, parallelism: int = 1) -> None:
        self.time_cost = time_cost
        self.memory_kib = memory_kib
        self.parallelism = parallelism
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            type=argon2.Type.ID,
        )

    @classmethod
    def fast_for_tests(cls) -> Argon2Hasher:
        """The cheapest parameters argon2 accepts: real hashes in microseconds. Tests only."""
        return cls(time_cost=1, memory_kib=8, parallelism=1)

    def __repr__(self) -> str:
        return (
            f"Argon2Hasher(time_cost={self.time_cost}, memory_kib={self.memory_kib}, "
            f"parallelism={self.parallelism})"
        )

    def hash(self, password: str) -> str:
        # The string carries algorithm, parameters and salt, so stored hashes stay
        # verifiable after the parameters change.
        return self._hasher.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(hash, password)
        except (VerificationError, ValueError):
            # ValueError covers InvalidHashError and non-ASCII hash strings: a corrupt
            # stored hash must read as "wrong password", not crash the login.
            return False

    def needs_rehash(self, hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(hash)
        except ValueError:
            return True


class HashingPool:
    """Runs a ``PasswordHasher`` in worker threads, at most ``slots`` at a time.

    Admission is a bounded expected wait (``admission.py``): a caller is refused at once
    with ``Overloaded(retry_after)`` when the hashes ahead of it would take longer than
    ``max_wait_seconds`` at the measured rate, so the server can answer 503 +
    Retry-After instead of queueing without bound. Requests ask for a ``Seat`` with
    ``admit`` before any expensive work; other callers are admitted as they submit.
    Use from one event loop.

    ``clock`` times the line of refused callers and the queue; ``work_clock`` times a
    job's work in its thread, by default the thread's CPU time: a thread that waits for
    the GIL or a lock while a burst keeps the event loop busy is not a slower pool, and
    counting that wait (wall time) once doubled a burst's ``Retry-After``, so the people
    came back late to a half-idle pool (bench/burst.py: 2.2x the hash bound's time;
    1.26x with CPU time). Tests inject both;
    ``refuse_every`` refuses every Nth ``admit`` call, starting with the first, whatever
    the queue (tests of the widget's waiting: ``Settings.hash_refuse_every``);
    ``observer`` is told the queue's depth, refusals and waits (metrics).
    """

    def __init__(
        self,
        hasher: PasswordHasher,
        slots: int | None = None,
        max_wait_seconds: float = 10.0,
        hand_back: int = HAND_BACK,
        *,
        clock: Callable[[], float] = time.monotonic,
        work_clock: Callable[[], float] = time.thread_time,
        refuse_every: int = 0,
        observer: HashObserver | None = None,
    ) -> None:
        self.hasher = hasher
        self.observer: HashObserver = observer or _Unobserved()
        self.slots = slots if slots is not None else cores()
        self.max_wait_seconds = max_wait_seconds
        if self.slots < 1 or max_wait_seconds < 0 or hand_back < 1 or refuse_every < 0:
            raise ValueError(
                "slots and hand_back must be >= 1, max_wait_seconds and refuse_every >= 0"
            )
        self.hand_back = hand_back
        self._clock = clock
        self._work_clock = work_clock
        self._refuse_every = refuse_every
        self._asked = 0  # admit calls, for refuse_every
        # Our own threads, not anyio's shared 40-thread pool: that one lets hashes starve
        # other thread work (file and DB calls) and oversubscribes the cores. A thread
        # that finishes a hash takes the next queued one at once, without waiting for
        # the event loop to hand it over, so the cores never idle while work is queued.
        # A plain queue rather than a ThreadPoolExecutor: its submit (a lock, a
        # semaphore, a Condition per future) and wrap_future's chaining cost ~6 % of the
        # event loop's CPU in a registration burst; a job here is one queue put and one
        # call_soon_threadsafe back.
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._counts = threading.Lock()
        self._outstanding = 0  # submitted and neither finished nor cancelled
        self._running = 0  # inside a thread right now
        # A hash with this pool's parameters, made on first use, for verify_dummy.
        self._dummy_hash: str | None = None
        # Finished jobs not yet handed back (see HAND_BACK), under ``_counts``.
        self._finished: list[_Done] = []
        # Seconds a job keeps a thread (hash, and its ``then``), smoothed; under ``_counts``.
        self._job_seconds = FIRST_GUESS_SECONDS
        self._timed = False
        # Event loop only: seats given and not yet taken by a hash or given back, the
        # admitted waiting for their turn, and the refused told when to come back.
        self._admitted = 0
        self._turns = Turns()
        self._line = Line()

    @property
    def seconds_per_hash(self) -> float:
        """Seconds of this pool's time one more hash costs: one thread's time per job
        (measured) shared by the slots."""
        return self._job_seconds / self.slots

    @property
    def admitted(self) -> int:
        """Seats given and not yet taken by a hash or given back."""
        return self._admitted

    def expected_wait(self) -> float:
        """Seconds until a hash asked for now would be done: everything ahead of it
        (queued, running, admitted) and itself, at the measured rate."""
        return (self._outstanding + self._admitted + 1) * self.seconds_per_hash

    def admit(self) -> Seat:
        """A seat in the line, or ``Overloaded`` at once if the expected wait is past
        ``max_wait_seconds``. Cheap: no lock, no await, a few arithmetic operations."""
        if self._closed:
            raise RuntimeError("the hashing pool is closed")
        self._asked += 1
        if self._refuse_every and self._asked % self._refuse_every == 1 % self._refuse_every:
            raise self._refusal()
        if self.expected_wait() > self.max_wait_seconds:
            raise self._refusal()
        self._admitted += 1
        self.observer.depth(self._outstanding + self._admitted)
        return Seat(self)

    async def calibrate(self) -> None:
        """Time this machine's hashes before the first caller comes: a burst at start-up
        is then admitted by the measured rate, not ``FIRST_GUESS_SECONDS``. The second of
        two hashes counts (the first pays for the thread and its memory arena); it is
        kept as the dummy hash ``verify_dummy`` would make anyway."""
        await self._run(self.hasher.hash, secrets.token_urlsafe(16))
        with self._counts:
            self._timed = False
        self._dummy_hash = await self._run(self.hasher.hash, secrets.token_urlsafe(16))

    def _refusal(self) -> Overloaded:
        """``Overloaded`` with this caller's place in line: behind every hash in the pool
        and everyone already told to come back, less half the bound, so they come back
        while the queue still holds work and get in (see ``admission.py``)."""
        self.observer.refused()
        now = self._clock()
        ahead = self._outstanding + self._admitted + self._line.waiting(now) + 1
        retry_after = max(1, math.ceil(ahead * self.seconds_per_hash - self.max_wait_seconds / 2))
        self._line.book(now + retry_after)
        return Overloaded(retry_after=retry_after)

    async def _turn(self, seat: Seat) -> None:
        if seat.turned or not self._holds(seat):
            return
        if not len(self._turns) and self._turns.in_turn < self._room():
            self._turns.give(seat)
            return
        await self._turns.wait(seat)

    def _room(self) -> int:
        """How many admitted requests may be between their turn and their hash."""
        ahead = max(
            2 * self.slots * self.hand_back, math.ceil(TURN_AHEAD_SECONDS / self.seconds_per_hash)
        )
        return ahead - self._outstanding

    def _holds(self, seat: Seat) -> bool:
        return seat.pool is self and seat.held

    def _take(self, seat: Seat) -> None:
        """A hash of the admitted request is being queued: its place becomes that hash."""
        if seat.held:
            seat.held = False
            self._admitted -= 1
            self._turns.end(seat)

    def _leave(self, seat: Seat) -> None:
        """The request is done; a place no hash took goes back to the line."""
        self._take(seat)
        self._turns.grant(self._room())

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        """Calls queued for a thread: admitted but not yet running."""
        return max(0, self._outstanding - self._running)

    def close(self) -> None:
        """Drop queued work and let the threads end after their current hash."""
        self._closed = True
        self._turns.cancel_all()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None and job.drop(self._counts):
                with self._counts:
                    self._outstanding -= 1
                with contextlib.suppress(RuntimeError):  # its loop is closed
                    job.loop.call_soon_threadsafe(job.future.cancel)
        for _ in self._threads:
            self._queue.put(None)

    async def hash(self, password: str) -> str:
        if len(password) > HARD_CAP:
            # The policy refuses these; reaching here is a caller bug, not user input.
            raise ValueError("password longer than HARD_CAP; validate with the policy first")
        return await self._run(self.hasher.hash, password)

    async def hash_then(self, password: str, then: Callable[[str], T]) -> T:
        """Hash ``password`` and pass the hash to ``then`` (which stores it) in one of the
        pool's threads, when the result is handed back: one hand-over from the event
        loop and one back, where awaiting ``hash`` and then a write costs a wake-up of
        the loop and a hand-over more. ``then`` runs even if the caller has gone."""
        if len(password) > HARD_CAP:
            raise ValueError("password longer than HARD_CAP; validate with the policy first")
        return cast(T, await self._submit(partial(self.hasher.hash, password), then))

    async def verify(self, hash: str, password: str) -> tuple[bool, bool]:
        """``(ok, needs_rehash)``; ``needs_rehash`` is only ever True when ``ok`` is."""
        if len(password) > HARD_CAP:
            # No stored password can be this long, so refusing without hashing leaks nothing.
            return False, False
        return await self._run(self._verify_sync, hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend one verify's time when the identifier is unknown or has no password.

        Without it a login for a non-existent account answers ~17 ms sooner than a
        wrong password for a real one, which tells an attacker which accounts exist.
        """
        if len(password) > HARD_CAP:
            return
        if self._dummy_hash is None:
            # Making the dummy costs one hash, which is what this call must cost anyway.
            self._dummy_hash = await self._run(self.hasher.hash, secrets.token_urlsafe(16))
            return
        await self._run(self._verify_sync, self._dummy_hash, password)

    def _verify_sync(self, hash: str, password: str) -> tuple[bool, bool]:
        ok = self.hasher.verify(hash, password)
        return ok, ok and self.hasher.needs_rehash(hash)

    async def _run(self, func: Callable[[*Ts], T], *args: *Ts) -> T:
        return cast(T, await self._submit(partial(func, *args), None))

    async def _submit(self, work: Callable[[], Any], then: Callable[[Any], Any] | None) -> Any:
        """Run ``work`` in a thread, then ``then`` on its result (see ``_hand_back``).

        A caller without a seat is admitted here by the same rule as ``admit``.
        Admission is checked and counted with no await in between. "Outstanding" spans
        queued and running and only ends when the thread is done or the queued call was
        dropped, so a cancelled caller whose hash still runs keeps its slot: the count
        always matches the threads actually using a core."""
        if self._closed:
            raise RuntimeError("the hashing pool is closed")
        seat = current_seat()
        if seat is not None and seat.pool is self:
            # Admitted before its work began: never refused midway (a login's rehash).
            self._take(seat)
        elif self.expected_wait() > self.max_wait_seconds:
            raise self._refusal()
        loop = asyncio.get_running_loop()
        job = _Job(work, then, loop.create_future(), loop, self._clock())
        with self._counts:
            self._outstanding += 1
        if len(self._threads) < self.slots:
            self._start_thread()
        self._queue.put(job)
        try:
            return await job.future
        except asyncio.CancelledError:
            # A caller cancelled while queued drops the job, which then never runs.
            if job.drop(self._counts):
                with self._counts:
                    self._outstanding -= 1
            raise

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._serve, name=f"argon2_{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _serve(self) -> None:
        """A worker thread: run jobs until ``close``."""
        while (job := self._queue.get()) is not None:
            with self._counts:
                dropped = job.dropped
                if not dropped:
                    job.started = True
                    self._running += 1
            if dropped:
                self._hand_back(None)  # what was held for this job must not wait on
                continue
            started = self._clock()
            self.observer.waited(started - job.queued)
            working = self._work_clock()
            try:
                result, error = job.work(), None
            except BaseException as exc:  # handed to the caller, whatever it is
                result, error = None, exc
            finally:
                with self._counts:
                    self._running -= 1
                    self._outstanding -= 1
            job.seconds = self._work_clock() - working
            if job.then is None or error is not None:
                self._time(job.seconds)  # else timed with its ``then`` (``_then``)
            self._hand_back((job, result, error))
            del job, result, error
        self._hand_back(None, closing=True)

    def _time(self, seconds: float) -> None:
        """One job's time in a thread: its hash and its ``then`` (a write keeps the
        thread from the next hash too). Recorded before the caller gets the result."""
        with self._counts:
            if self._timed:
                self._job_seconds += SMOOTHING * (seconds - self._job_seconds)
            else:
                self._job_seconds, self._timed = max(seconds, 1e-6), True

    def _then(self, done: _Done) -> _Done:
        """``done`` after its job's ``then`` (if any) has run on the result."""
        job, result, error = done
        if job.then is None or error is not None:
            return done
        started = self._work_clock()
        try:
            done = job, job.then(result), None
        except BaseException as exc:  # handed to the caller, whatever it is
            done = job, None, exc
        self._time(job.seconds + self._work_clock() - started)
        return done

    def _hand_back(self, done: _Done | None, closing: bool = False) -> None:
        """Give finished jobs to their event loops, a batch in one wake-up each; hold
        them while fewer than ``hand_back`` have finished and more work is queued (a
        thread will finish it and come here again). Closing, nothing stays behind."""
        with self._counts:
            # Looked at under the lock: a thread that takes the last queued job after
            # this finds the queue empty when it is done, and hands back what is held.
            more = not closing and not self._queue.empty()
            if done is not None:
                self._finished.append(done)
            if more and len(self._finished) < self.hand_back:
                return
            batch, self._finished = self._finished, []
        by_loop: dict[asyncio.AbstractEventLoop, list[_Done]] = {}
        for item in map(self._then, batch):
            by_loop.setdefault(item[0].loop, []).append(item)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(self._deliver, items)

    def _deliver(self, batch: list[_Done]) -> None:
        """On the event loop: settle the batch's callers; the hashes they leave let the
        next admitted requests take their turn."""
        for job, result, error in batch:
            _settle(job.future, result, error)
        self._turns.grant(self._room())
        self.observer.depth(self._outstanding + self._admitted)


class _Job:
    __slots__ = ("dropped", "future", "loop", "queued", "seconds", "started", "then", "work")

    def __init__(
        self,
        work: Callable[[], Any],
        then: Callable[[Any], Any] | None,
        future: asyncio.Future[Any],
        loop: asyncio.AbstractEventLoop,
        queued: float,
    ) -> None:
        self.work, self.then, self.future, self.loop = work, then, future, loop
        self.queued = queued  # the pool's clock when it was submitted
        self.started = self.dropped = False
        self.seconds = 0.0  # its hash's time in a thread

    def drop(self, counts: threading.Lock) -> bool:
        """Mark the job as not to run; False if a thread has started it already."""
        with counts:
            if self.started or self.dropped:
                return False
            self.dropped = True
            return True


#: A finished job: the job, its result, and the error it raised (or None).
_Done = tuple[_Job, Any, BaseException | None]


def _settle(future: asyncio.Future[T], result: T | None, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(cast(T, result))
