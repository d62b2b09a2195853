"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
after ``upgrade`` on an empty database, Alembic's autogenerate finds nothing to do."""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from widget_server.db import Database
from widget_server.migrate import upgrade
from widget_server.models import Base

#: Migration 0009's indexes over expressions (sort keys, trigram search): their text
#: differs by dialect, so the models do not declare them and SQLAlchemy cannot reflect
#: them on SQLite. ``test_search_indexes_exist`` checks them instead.
EXPRESSION_INDEXES = frozenset(
    {
        "ix_users_pool_activated",
        "ix_users_pool_last_login",
        "ix_users_pool_name",
        "ix_users_name_trgm",
        "ix_users_payload_trgm",
        "ix_addresses_value_trgm",
        "ix_addresses_pool_value_prefix",
    }
)


def _not_expression_index(obj: Any, name: str | None, kind: str, *_: Any) -> bool:
    return not (kind == "index" and name in EXPRESSION_INDEXES)


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": _not_expression_index,
        },
    )
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Skipped unsupported reflection of expression-based index"
        )
        return list(compare_metadata(context, Base.metadata))


async def test_search_indexes_exist(database_url: str):
    db = Database(database_url)
    try:
        await upgrade(db)
        async with db.engine.connect() as connection:
            if db.is_sqlite:
                query = "SELECT name FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            names = set((await connection.execute(text(query))).scalars())
    finally:
        await db.dispose()
    expected = {"ix_users_pool_activated", "ix_users_pool_last_login", "ix_users_pool_name"}
    if not db.is_sqlite:
        expected = EXPRESSION_INDEXES
    assert expected <= names


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
