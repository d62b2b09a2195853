"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
after ``upgrade`` on an empty database, Alembic's autogenerate finds nothing to do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from widget_server.db import Database
from widget_server.migrate import upgrade
from widget_server.models import Base


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_builds_exactly_the_models(database_url: str):
    db = Database(database_url)
    try:
        await upgrade(db)
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(_tables)
            diff = await connection.run_sync(_diff)
    finally:
        await db.dispose()
    assert set(Base.metadata.tables) <= tables
    assert diff == []


async def test_upgrade_twice_is_a_no_op(database_url: str):
    db = Database(database_url)
    try:
        await upgrade(db)
        await upgrade(db)
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await db.dispose()
    assert diff == []


@pytest.mark.postgres
async def test_concurrent_upgrades_on_postgres_run_one_after_another() -> None:
    """A migration job and replicas migrating as they start, all at once on a new database."""
    await require_postgres()
    await reset_postgres()
    dbs = [Database(POSTGRES_URL) for _ in range(4)]
    try:
        # Without the lock they block each other on the catalogue (or fail): bounded.
        async with asyncio.timeout(60):
            await asyncio.gather(*(upgrade(db) for db in dbs))
        async with dbs[0].engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        for db in dbs:
            await db.dispose()
    assert diff == []
