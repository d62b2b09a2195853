"""``INSERT … ON CONFLICT DO NOTHING`` for the two dialects we run on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert


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
