"""Engine, sessions and the write discipline.

SQLite allows one writer at a time; if several transactions race for the write lock,
its busy handler sleeps and p99 explodes. So on SQLite every write transaction takes
an in-process lock first and the busy handler never has to wait (docs/architecture.md, measured
3.4 s → 0.74 s register p99). PostgreSQL needs no such lock.

The lock (``WriteLock``) is taken by coroutines (``write()``'s sessions, on the loop)
and by threads (the writer thread; a hashing thread that goes straight on to store what
it hashed, ``write_here``) alike. Whoever holds it may use the one writer connection,
so a thread that holds it writes without handing the work to another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")


class WriteLock:
    """A lock for coroutines of one event loop and for threads at once.

    A coroutine waits without blocking its loop (``async with lock``); a thread blocks
    (``with lock.held()``). On release the lock passes straight to the longest waiter,
    whichever kind it is. Not reentrant.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._waiters: deque[_Waiter] = deque()

    @property
    def locked(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop.create_future(), loop)
            self._waiters.append(waiter)
        try:
            await waiter.future
        except asyncio.CancelledError:
            with self._mutex:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:  # it was passed to us as we were cancelled: pass it on
                self.release()
            raise

    def acquire_blocking(self) -> None:
        """From a thread that is not running the event loop."""
        with self._mutex:
            if not self._held:
                self._held = True
                return
            waiter = _Waiter(threading.Event(), None)
            self._waiters.append(waiter)
        waiter.future.wait()

    def release(self) -> None:
        with self._mutex:
            if not self._waiters:
                self._held = False
                return
            waiter = self._waiters.popleft()
            waiter.granted = True
        waiter.wake()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *_exc: object) -> None:
        self.release()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire_blocking()
        try:
            yield
        finally:
            self.release()


class _Waiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, future: Any, loop: asyncio.AbstractEventLoop | None) -> None:
        self.future = future  # an asyncio.Future for a coroutine, an Event for a thread
        self.loop = loop
        self.granted = False

    def wake(self) -> None:
        if self.loop is None:
            self.future.set()
        else:
            self.loop.call_soon_threadsafe(_grant, self.future)


def _grant(future: asyncio.Future[None]) -> None:
    if not future.done():  # a cancelled waiter passes the lock on itself
        future.set_result(None)


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(url, **_engine_options(self.is_sqlite))
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            ping = partial(_ping_if_idle, self.engine.dialect)
            event.listen(self.engine.sync_engine, "checkout", ping)
            event.listen(self.engine.sync_engine, "checkin", _note_checkin)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = WriteLock() if self.is_sqlite else None
        self._closed = False
        self._sync_engine = None
        self._loop_engine = None
        self._writer: ThreadPoolExecutor | None = None
        self._writer_connection: Connection | None = None
        self._reader: ThreadPoolExecutor | None = None
        self._reader_connection: Connection | None = None
        self._loop_connection: Connection | None = None
        if self.is_sqlite:
            # Same file through the synchronous driver, for ``run_write`` and ``run_read``:
            # one connection each (the write lock lets one transaction in at a time).
            sync_url = parsed.set(drivername="sqlite+pysqlite")
            self._sync_engine = create_engine(
                sync_url,
                pool_size=2,
                max_overflow=0,
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            event.listen(self._sync_engine, "connect", _sqlite_pragmas)
            # ...and one for reads on the event loop, which must never wait for a lock.
            self._loop_engine = create_engine(
                sync_url,
                pool_size=1,
                max_overflow=0,
                connect_args={"timeout": 0, "check_same_thread": False},
            )
            event.listen(self._loop_engine, "connect", partial(_sqlite_pragmas, busy_ms=0))
            # ...used by whoever holds the write lock, mostly from one thread of its own,
            # on one connection kept open: no pool checkout per write, and a write never
            # waits behind file or mail work in the shared thread pool.
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write")
            # Reads of the hot paths (a login's account lookup) likewise: WAL lets them run
            # beside the writer, and a kept-open connection skips the session machinery.
            self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-read")

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction that commits on success and rolls back on any exception."""
        async with self._locked(), self.sessions() as session, session.begin():
            yield session

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @property
    def writes_in_threads(self) -> bool:
        """True where ``write_here`` may be called (SQLite)."""
        return self._writer is not None

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` as one transaction that commits on success.

        SQLite: the whole function runs in one worker thread on the synchronous driver
        (aiosqlite costs a thread hop per statement), which takes the write lock itself.
        PostgreSQL: on the async connection through ``run_sync``.
        """
        writer = self._writer
        if writer is None:  # PostgreSQL (or SQLite after dispose)
            async with self._locked(), self.engine.begin() as connection:
                return await connection.run_sync(work)
        job = asyncio.get_running_loop().run_in_executor(writer, self.write_here, work)
        return await _uncancellable(job)

    def write_here(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` as one transaction in the calling thread, which must not be the
        event loop's: it blocks until the write lock is free. SQLite only
        (``writes_in_threads``). A thread that has just hashed a password stores the
        registration this way, without a hop back to the loop and on to the writer.
        The lock is not reentrant: a coroutine inside ``write()`` must not wait for a
        thread that calls this (it would wait for its own lock)."""
        lock = self._write_lock
        if lock is None or self._writer is None:
            raise RuntimeError("write_here is for SQLite databases that are open")
        with lock.held():
            if self._closed:
                raise RuntimeError("the database was disposed")
            return self._transaction(work)

    async def call(self, sql: str, *args: Any) -> Any:
        """The first column of the first row of one statement, run straight on the
        driver's connection (asyncpg) outside any transaction, in one round trip: for a
        database function, which is atomic on its own. PostgreSQL only. A connection
        that fails or is cancelled mid-call is not reused."""
        if self.is_sqlite:
            raise RuntimeError("call is for PostgreSQL")
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            try:
                return await raw.driver_connection.fetchval(sql, *args)  # type: ignore[union-attr]
            except BaseException:
                await connection.invalidate()
                raise

    async def run_read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work``, which only reads (a few rows by key), on a plain ``Connection``.

        SQLite: right here on the event loop, on a connection kept for it. In WAL mode a
        reader never waits for the writer, and handing a read of ~30 us to a thread cost
        more (a thread wake-up each way, ~50 us of loop CPU on this kind of machine)
        than the read. Should the file be locked after all (a crashed writer's WAL being
        recovered), this connection does not wait (busy timeout 0): the read is retried
        in the reader thread, which may. PostgreSQL: through ``run_sync``.
        """
        reader = self._reader
        if reader is None:
            async with self.engine.connect() as connection:
                return await connection.run_sync(work)
        try:
            return self._read_here(work)
        except (sqlite3.OperationalError, DBAPIError) as error:
            if not _locked_error(error):
                raise
        job = asyncio.get_running_loop().run_in_executor(reader, self._read, work)
        return await _uncancellable(job)

    def _read_here(self, work: Callable[[Connection], T]) -> T:
        connection = self._loop_connection
        if connection is None or connection.invalidated or connection.closed:
            self._close_loop_connection()
            assert self._loop_engine is not None
            connection = self._loop_connection = self._loop_engine.connect()
        with connection.begin():
            return work(connection)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        """With the write lock held: ``work`` in one transaction on the writer connection."""
        self._writer_connection = connection = self._fresh(self._writer_connection)
        with connection.begin():
            return work(connection)

    def _read(self, work: Callable[[Connection], T]) -> T:
        """In the reader thread: ``work`` on the thread's connection, ended at once (a
        read transaction left open would hold back WAL checkpoints)."""
        self._reader_connection = connection = self._fresh(self._reader_connection)
        with connection.begin():
            return work(connection)

    def _fresh(self, connection: Connection | None) -> Connection:
        if connection is None or connection.invalidated or connection.closed:
            if connection is not None:
                connection.close()
            assert self._sync_engine is not None
            connection = self._sync_engine.connect()
        return connection

    def _close_writer_connection(self) -> None:
        if self._writer_connection is not None:
            self._writer_connection.close()
            self._writer_connection = None

    def _close_loop_connection(self) -> None:
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None

    def _close_reader_connection(self) -> None:
        if self._reader_connection is not None:
            self._reader_connection.close()
            self._reader_connection = None

    async def dispose(self) -> None:
        await self.engine.dispose()
        self._close_loop_connection()
        loop = asyncio.get_running_loop()
        writer, self._writer = self._writer, None
        if writer is not None and self._write_lock is not None:
            # A thread may be writing on the writer connection: wait for it.
            async with self._write_lock:
                self._closed = True
            await loop.run_in_executor(writer, self._close_writer_connection)
            writer.shutdown(wait=True)
        reader, self._reader = self._reader, None
        if reader is not None:
            await loop.run_in_executor(reader, self._close_reader_connection)
            reader.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._loop_engine is not None:
            self._loop_engine.dispose()


async def _uncancellable(job: asyncio.Future[T]) -> T:
    """``job``'s result; a cancel waits for the thread to end, then propagates: the
    caller must not go on as if nothing were written while its transaction still runs."""
    cancelled = False
    while not job.done():
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return job.result()


def _locked_error(error: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED, raised by the driver or wrapped by SQLAlchemy."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)


def _engine_options(is_sqlite: bool) -> dict[str, Any]:
    if is_sqlite:
        return {"connect_args": {"timeout": 30}}
    # No pool_pre_ping: it costs a round trip per checkout, ~0.3 ms of event-loop CPU,
    # even for a connection that answered a moment ago; ``_ping_if_idle`` instead.
    return {"pool_size": 10, "max_overflow": 10}


#: A pooled connection back for less than this is handed out without a ping, as
#: HikariCP does (its aliveBypassWindowMs): one that has just worked is very likely to
#: work still, and under load every connection is that recent. Should the server have
#: gone meanwhile, the statement fails, SQLAlchemy invalidates the pool's connections
#: and the next checkout connects anew.
PING_AFTER_IDLE_SECONDS = 0.5


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Check a connection that sat idle in the pool before handing it out; a dead one
    is replaced (``DisconnectionError`` makes the pool connect anew and retry). The ping
    is the dialect's public ``do_ping``, what ``pool_pre_ping`` itself uses, not a
    method of SQLAlchemy's asyncpg adapter."""
    checked_in = record.info.get("checked_in")
    if checked_in is not None and time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
        return
    try:
        alive = dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise DisconnectionError(f"a pooled connection did not answer: {error}") from error
    if not alive:
        raise DisconnectionError("a pooled connection did not answer")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, busy_ms: int = 30000) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; NORMAL sync is durable across app
    # crashes in WAL mode and much cheaper than FULL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cursor.close()
