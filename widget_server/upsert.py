"""``INSERT … ON CONFLICT DO NOTHING`` for the two dialects we run on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


async def insert_ignoring_conflict(
    session: AsyncSession,
    model: type[Any],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> bool:
    """Insert one row; return False if a unique index already held its key."""
    dialect = session.bind.dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        .returning(model.id)
    )
    result = await session.execute(statement)
    return result.first() is not None
