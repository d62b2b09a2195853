"""``INSERT … ON CONFLICT DO NOTHING`` for the two dialects we run on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from widget_server.fastsql import Prepared


def insert_ignore(
    dialect: str, table: Table, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> ReturningInsert[Any]:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(table.c.id)
    )


async def insert_ignoring_conflict(
    session: AsyncSession,
    model: type[Any],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> bool:
    """Insert one row; return False if a unique index already held its key."""
    assert session.bind is not None, "sessions here are always bound to the engine"
    statement = insert_ignore(session.bind.dialect.name, model.__table__, values, conflict_columns)
    return (await session.execute(statement)).first() is not None


def insert_ignoring_conflict_sync(
    connection: Connection, table: Table, values: Mapping[str, Any], conflict_columns: Sequence[str]
) -> bool:
    statement = insert_ignore(connection.dialect.name, table, values, conflict_columns)
    return connection.execute(statement).first() is not None


class PreparedInsertIgnoring:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id`` built once per dialect and run
    with a row of values (``widget_server.fastsql``); ``first`` is None when a unique
    index already held the key."""

    def __init__(self, table: Table, *conflict_columns: str) -> None:
        self._by_dialect = {
            name: Prepared(
                dialect.insert(table)
                .on_conflict_do_nothing(index_elements=list(conflict_columns))
                .returning(table.c.id)
            )
            for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
        }

    def inserted(self, connection: Connection, values: Mapping[str, Any]) -> bool:
        return self._by_dialect[connection.dialect.name].first(connection, values) is not None
