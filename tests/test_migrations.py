"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
after ``upgrade`` on an empty database, Alembic's autogenerate finds nothing to do."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from widget_server.admin.access import load_principal, pool_scope, sees_pool
from widget_server.clock import ManualClock
from widget_server.db import Database
from widget_server.migrate import downgrade, upgrade
from widget_server.models import AdminPrincipal, Base
from widget_server.seed import seed_demo

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


_NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def _insert_before_0015(db: Database) -> None:
    """Rows as 0014 kept them: developers and invitations of one pool in ``pool_id``."""
    await seed_demo(db, ManualClock(), [])
    async with db.engine.begin() as connection:
        for pid, role, pool, workspace in (
            ("dev-one", "developer", "partner-1", None),
            ("dev-ws", "developer", None, "ws-x"),
            ("lead", "pool_admin", "business-1", None),
        ):
            if workspace is not None:
                await connection.execute(
                    text(
                        "INSERT INTO workspaces (id, tenant_id, name, created_at, updated_at) "
                        "VALUES (:id, 'acme', 'X', :now, :now)"
                    ),
                    {"id": workspace, "now": _NOW},
                )
            await connection.execute(
                text(
                    "INSERT INTO admin_principals (id, tenant_id, pool_id, workspace_id, kind,"
                    " role, name, email, secret_hash, created_at) VALUES (:id, 'acme', :pool,"
                    " :ws, 'person', :role, :id, :email, 'x', :now)"
                ),
                {"id": pid, "pool": pool, "ws": workspace, "role": role,
                 "email": f"{pid}@example.test", "now": _NOW},
            )
        await connection.execute(
            text(
                "INSERT INTO developer_invitations (id, tenant_id, email, name, pool_id,"
                " token_hash, invited_by_name, sent_count, created_at, sent_at, expires_at)"
                " VALUES ('inv-1', 'acme', 'a@example.test', 'A', 'partner-2', 'h1', 'Olivia',"
                " 1, :now, :now, :now)"
            ),
            {"now": _NOW},
        )


Pairs = set[tuple[str, str]]


async def _scopes(db: Database) -> tuple[dict[str, Any], Pairs, Pairs]:
    async with db.engine.connect() as connection:
        pool_ids = {
            r.id: r.pool_id
            for r in await connection.execute(text("SELECT id, pool_id FROM admin_principals"))
        }
        links = {
            (r.principal_id, r.pool_id)
            for r in await connection.execute(text("SELECT * FROM admin_principal_pools"))
        }
        invited = {
            (r.invitation_id, r.pool_id)
            for r in await connection.execute(text("SELECT * FROM developer_invitation_pools"))
        }
    return pool_ids, links, invited


async def test_0015_moves_a_developers_one_pool_into_its_pool_set(database_url: str):
    """An existing single-pool developer keeps exactly its pool, now as a row of
    ``admin_principal_pools``; pool admins and workspace developers are untouched; an
    invitation's pool moves to ``developer_invitation_pools``."""
    db = Database(database_url)
    try:
        await upgrade(db, "0014")
        await _insert_before_0015(db)
        await upgrade(db)
        pool_ids, links, invited = await _scopes(db)
        async with db.engine.connect() as connection:
            diff = await connection.run_sync(_diff)
    finally:
        await db.dispose()
    assert links == {("dev-one", "partner-1")}
    assert pool_ids == {"dev-one": None, "dev-ws": None, "lead": "business-1"}
    assert invited == {("inv-1", "partner-2")}
    assert diff == []


async def test_0015_upgraded_developer_signs_in_with_the_same_scope(database_url: str):
    """Through the code, not only the rows: the migrated developer sees its pool and no
    other."""
    db = Database(database_url)
    try:
        await upgrade(db, "0014")
        await _insert_before_0015(db)
        await upgrade(db)
        async with db.read() as session:
            row = await session.get(AdminPrincipal, "dev-one")
            assert row is not None
            principal = await load_principal(session, row)
    finally:
        await db.dispose()
    assert pool_scope(principal) == frozenset({"partner-1"})
    assert sees_pool(principal, "partner-1") and not sees_pool(principal, "partner-2")


async def test_0015_downgrade_keeps_one_pool_and_revokes_a_developer_with_none(database_url: str):
    db = Database(database_url)
    try:
        await upgrade(db, "0014")
        await _insert_before_0015(db)
        await upgrade(db)
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO admin_principal_pools (principal_id, pool_id)"
                    " VALUES ('dev-one', 'partner-2')"
                )
            )
            await connection.execute(
                text(
                    "INSERT INTO admin_principals (id, tenant_id, kind, role, name, email,"
                    " secret_hash, created_at) VALUES ('dev-none', 'acme', 'person',"
                    " 'developer', 'n', 'n@example.test', 'x', :now)"
                ),
                {"now": _NOW},
            )
        await downgrade(db, "0014")
        async with db.engine.connect() as connection:
            rows = {
                r.id: (r.pool_id, r.revoked_at is not None)
                for r in await connection.execute(
                    text("SELECT id, pool_id, revoked_at FROM admin_principals")
                )
            }
            invitation = await connection.scalar(
                text("SELECT pool_id FROM developer_invitations WHERE id = 'inv-1'")
            )
    finally:
        await db.dispose()
    assert rows["dev-one"] == ("partner-1", False)  # narrower, never wider
    assert rows["dev-none"] == (None, True)
    assert rows["lead"] == ("business-1", False)
    assert invitation == "partner-2"
