"""``Database.run_write`` on SQLite: one writer thread, and the write lock outlives a
cancelled caller until its transaction has really ended."""

from __future__ import annotations

import asyncio
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
