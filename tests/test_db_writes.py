"""``Database.run_write`` on SQLite: one writer thread, and the write lock outlives a
cancelled caller until its transaction has really ended. ``Database.run_read``: on the
event loop, or in the reader thread when the file is locked."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import Connection, text

from widget_server.db import Database


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
