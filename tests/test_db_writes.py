"""``Database.run_write`` on SQLite: one writer thread, and a cancelled caller waits
until its transaction has really ended. ``Database.run_read``: on the event loop, or in
the reader thread when the file is locked. ``WriteLock``: one writer at a time among
coroutines and threads; ``write_here`` from a hashing thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from widget_server.db import Database, WriteLock
from widget_server.passwords.hashing import Argon2Hasher, HashingPool


async def test_cancelled_write_keeps_the_lock_until_its_thread_ends(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    release = threading.Event()
    order: list[str] = []
    try:
        await db.run_write(lambda c: c.execute(text("create table t (v text)")))

        def slow(connection: Connection) -> None:
            order.append("slow started")
            release.wait(5)
            connection.execute(text("insert into t values ('slow')"))
            order.append("slow committed")

        def quick(connection: Connection) -> None:
            order.append("quick started")
            connection.execute(text("insert into t values ('quick')"))

        first = asyncio.create_task(db.run_write(slow))
        while not order:
            await asyncio.sleep(0.005)
        first.cancel()
        second = asyncio.create_task(db.run_write(quick))
        await asyncio.sleep(0.05)
        # The cancel has not ended the first transaction, so the second still waits.
        assert not first.done()
        assert order == ["slow started"]
        release.set()
        await second
        assert first.cancelled()
        assert order == ["slow started", "slow committed", "quick started"]

        def values(connection: Connection) -> list[str]:
            return [v for (v,) in connection.execute(text("select v from t order by rowid"))]

        assert await db.run_write(values) == ["slow", "quick"]
    finally:
        release.set()
        await db.dispose()


async def test_writes_run_in_one_named_thread(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        names = {await db.run_write(lambda _c: threading.current_thread().name) for _ in range(5)}
        assert len(names) == 1
        assert names.pop().startswith("sqlite-write")
    finally:
        await db.dispose()


async def test_reads_run_on_the_loop_and_see_committed_writes(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        await db.run_write(lambda c: c.execute(text("create table t (v text)")))
        await db.run_write(lambda c: c.execute(text("insert into t values ('one')")))

        def read(connection: Connection) -> tuple[int, list[str]]:
            rows = connection.execute(text("select v from t")).scalars().all()
            return threading.get_ident(), list(rows)

        where, rows = await db.run_read(read)
        assert where == threading.get_ident()  # no thread hop
        assert rows == ["one"]
        await db.run_write(lambda c: c.execute(text("insert into t values ('two')")))
        assert (await db.run_read(read))[1] == ["one", "two"]
    finally:
        await db.dispose()


async def test_a_locked_file_moves_the_read_to_its_thread_and_the_loop_keeps_running(
    tmp_path: Path,
) -> None:
    """Another process holding the file exclusively (WAL in exclusive locking mode): the
    read on the loop must not wait for it; the reader thread waits, the loop runs on."""
    path = tmp_path / "w.db"
    setup = Database(f"sqlite+aiosqlite:///{path}")
    await setup.run_write(lambda c: c.execute(text("create table t (v text)")))
    await setup.run_write(lambda c: c.execute(text("insert into t values ('kept')")))
    await setup.dispose()
    # Exclusive locking mode can only be taken while no other connection has the file.
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("insert into t values ('held')")
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:

        def read(connection: Connection) -> tuple[int, list[str]]:
            rows = connection.execute(text("select v from t order by v")).scalars().all()
            return threading.get_ident(), list(rows)

        task = asyncio.create_task(db.run_read(read))
        ticks = 0
        for _ in range(20):  # 0.2 s in which the loop must keep running
            await asyncio.sleep(0.01)
            ticks += 1
        assert not task.done()
        holder.execute("COMMIT")
        holder.close()
        where, rows = await asyncio.wait_for(task, 10)
        assert ticks == 20
        assert where != threading.get_ident()  # it waited in the reader thread
        assert rows == ["held", "kept"]
        # Once the file is free the next read is back on the loop.
        assert (await db.run_read(read))[0] == threading.get_ident()
    finally:
        await db.dispose()


# --- the write lock, shared by coroutines and threads ------------------------------------


async def test_a_thread_waits_for_a_session_write_and_the_loop_keeps_running(
    tmp_path: Path,
) -> None:
    """``write_here`` (a hashing thread storing what it hashed) and ``write()`` (an
    aiosqlite session) never overlap: the thread blocks until the session commits."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        await db.run_write(lambda c: c.execute(text("create table t (v text)")))
        loop = asyncio.get_running_loop()

        def from_thread(connection: Connection) -> list[str]:
            connection.execute(text("insert into t values ('thread')"))
            return list(connection.execute(text("select v from t order by rowid")).scalars())

        async with db.write() as session:
            await session.execute(text("insert into t values ('session')"))
            job = loop.run_in_executor(None, db.write_here, from_thread)
            await asyncio.sleep(0.1)  # the loop runs while the thread waits
            assert not job.done()
        # The thread saw the session's row: it started after the commit.
        assert await asyncio.wait_for(job, 10) == ["session", "thread"]
    finally:
        await db.dispose()


async def test_the_lock_passes_in_order_between_threads_and_coroutines() -> None:
    lock = WriteLock()
    order: list[str] = []
    lock.acquire_blocking()
    loop = asyncio.get_running_loop()
    first = asyncio.create_task(_take(lock, "coroutine 1", order))
    await asyncio.sleep(0.01)
    thread = loop.run_in_executor(None, _take_blocking, lock, "thread", order)
    await asyncio.sleep(0.05)
    second = asyncio.create_task(_take(lock, "coroutine 2", order))
    await asyncio.sleep(0.01)
    assert order == [] and lock.locked
    lock.release()
    await asyncio.wait_for(asyncio.gather(first, thread, second), 5)
    assert order == ["coroutine 1", "thread", "coroutine 2"]
    assert not lock.locked


@pytest.mark.parametrize(
    "release_first",
    [False, True],
    ids=["cancelled-while-waiting", "cancelled-as-the-lock-reaches-it"],
)
async def test_a_cancelled_waiter_does_not_keep_the_lock(release_first: bool) -> None:
    """Cancelled while it waits, or just after the lock was passed to it (before it ran):
    either way the next waiter gets the lock."""
    lock = WriteLock()
    await lock.acquire()
    order: list[str] = []
    waiting = asyncio.create_task(_take(lock, "cancelled", order))
    after = asyncio.create_task(_take(lock, "after", order))
    await asyncio.sleep(0.01)
    if release_first:
        lock.release()
        waiting.cancel()
    else:
        waiting.cancel()
        await asyncio.sleep(0)
        lock.release()
    await asyncio.wait_for(after, 5)
    assert waiting.cancelled()
    assert order == ["after"] and not lock.locked


async def _take(lock: WriteLock, name: str, order: list[str]) -> None:
    async with lock:
        order.append(name)
        await asyncio.sleep(0.01)


def _take_blocking(lock: WriteLock, name: str, order: list[str]) -> None:
    with lock.held():
        order.append(name)
        time.sleep(0.01)


async def test_hash_then_stores_from_the_hashing_thread(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    pool = HashingPool(Argon2Hasher.fast_for_tests(), slots=1)
    try:
        await db.run_write(lambda c: c.execute(text("create table t (h text, thread text)")))

        def store(hashed: str) -> str:
            def insert(connection: Connection) -> None:
                name = threading.current_thread().name
                connection.execute(text("insert into t values (:h, :t)"), {"h": hashed, "t": name})

            db.write_here(insert)
            return hashed

        hashed = await pool.hash_then("correct horse", store)
        assert pool.hasher.verify(hashed, "correct horse")
        rows = await db.run_read(lambda c: c.execute(text("select h, thread from t")).all())
        assert [tuple(r) for r in rows] == [(hashed, rows[0][1])]
        assert rows[0][1].startswith("argon2")
    finally:
        pool.close()
        await db.dispose()


async def test_write_here_is_refused_after_dispose(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await db.run_write(lambda c: c.execute(text("create table t (v text)")))
    await db.dispose()
    with pytest.raises(RuntimeError):
        db.write_here(lambda c: c.execute(text("insert into t values ('late')")))
