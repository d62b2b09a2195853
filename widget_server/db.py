"""Engine, sessions and the write discipline.

SQLite allows one writer at a time; if several transactions race for the write lock,
its busy handler sleeps and p99 explodes. So on SQLite every write transaction takes
an in-process lock first and the busy handler never has to wait (DESIGN.md, measured
3.4 s → 0.74 s register p99). PostgreSQL needs no such lock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(url, **_engine_options(self.is_sqlite))
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._sync_engine = None
        if self.is_sqlite:
            # Same file through the synchronous driver, for ``run_write``. One connection
            # suffices: the write lock lets one transaction in at a time.
            sync_url = parsed.set(drivername="sqlite+pysqlite")
            self._sync_engine = create_engine(
                sync_url,
                pool_size=1,
                max_overflow=0,
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            event.listen(self._sync_engine, "connect", _sqlite_pragmas)

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

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` as one transaction that commits on success.

        SQLite: the whole function runs in one worker thread on the synchronous driver
        (aiosqlite costs a thread hop per statement). PostgreSQL: on the async
        connection through ``run_sync``.
        """
        if self._sync_engine is None:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)
        sync_engine = self._sync_engine
        async with self._locked():

            def transaction() -> T:
                with sync_engine.begin() as connection:
                    return work(connection)

            return await anyio.to_thread.run_sync(transaction)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()


def _engine_options(is_sqlite: bool) -> dict[str, Any]:
    if is_sqlite:
        return {"connect_args": {"timeout": 30}}
    return {"pool_size": 10, "max_overflow": 10, "pool_pre_ping": True}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; NORMAL sync is durable across app
    # crashes in WAL mode and much cheaper than FULL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
