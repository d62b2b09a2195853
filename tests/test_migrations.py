"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
after ``upgrade`` on an empty database, Alembic's autogenerate finds nothing to do."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

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
