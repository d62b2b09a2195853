"""The PostgreSQL side of a registration's completion: the document the database
function gets, and the driver-level call and connection checks it relies on. (What
the function writes in every case, taken address, abandoned one, replay, hourly mail
limit, races, is covered by the registration tests, which run on PostgreSQL too.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Column, MetaData, String, Table, text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from widget_server import db as db_module
from widget_server.db import Database
from widget_server.flows.completion_pg import whole_row
from widget_server.migrate import upgrade
from widget_server.models import Flow, OutboxMessage

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
FLOWS: Any = Flow.__table__


def test_whole_row_fills_the_python_defaults_and_nulls():
    row = whole_row(
        FLOWS,
        {"id": "f1", "kind": "registration", "pool_id": "p", "state": "code", "data": {}},
    )
    assert row["step"] == ""  # default=""
    assert row["oauth"] == {}  # default=dict, a new dict each time
    assert row["oauth"] is not whole_row(FLOWS, {"id": "f2"})["oauth"]
    assert row["app_id"] is None and row["password_hash"] is None
    assert list(row) == [column.name for column in FLOWS.columns]  # the table's order


def test_whole_row_keeps_given_values_over_defaults():
    row = whole_row(FLOWS, {"id": "f1", "step": "account", "oauth": {"state": "x"}})
    assert row["step"] == "account" and row["oauth"] == {"state": "x"}


def test_whole_row_refuses_unknown_keys():
    with pytest.raises(KeyError, match="no column"):
        whole_row(FLOWS, {"id": "f1", "colour": "red"})


def test_whole_row_refuses_a_missing_column_with_a_server_default():
    table = Table(
        "t",
        MetaData(),
        Column("id", String, primary_key=True),
        Column("s", String, server_default="x"),
    )
    with pytest.raises(NotImplementedError, match="server default"):
        whole_row(table, {"id": "a"})
    assert whole_row(table, {"id": "a", "s": "given"}) == {"id": "a", "s": "given"}


def test_whole_row_of_an_outbox_row_leaves_the_serial_id_to_the_database():
    row = whole_row(
        OutboxMessage.__table__,  # type: ignore[arg-type]
        {
            "channel": "email",
            "recipient": "a@example.com",
            "subject": "s",
            "body_text": "b",
            "next_attempt_at": NOW,
            "created_at": NOW,
        },
    )
    assert row["id"] is None and row["status"] == "pending" and row["attempts"] == 0


@pytest.fixture
async def pg() -> Any:
    await require_postgres()
    await reset_postgres()
    db = Database(POSTGRES_URL)
    await upgrade(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_the_function_is_installed_by_the_migrations(pg: Database):
    async with pg.engine.connect() as connection:
        found = (
            await connection.execute(
                text(
                    "SELECT count(*) FROM pg_proc WHERE proname = 'widget_complete_registration_v1'"
                )
            )
        ).scalar_one()
    assert found == 1


@pytest.mark.postgres
async def test_call_runs_one_statement_and_a_failed_call_leaves_the_pool_usable(pg: Database):
    assert await pg.call("SELECT $1::int + 1", 41) == 42
    with pytest.raises(asyncpg.PostgresError):
        await pg.call("SELECT no_such_function()")
    assert await pg.call("SELECT 'still here'") == "still here"


async def test_call_is_refused_on_sqlite(tmp_path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    try:
        with pytest.raises(RuntimeError, match="PostgreSQL"):
            await db.call("SELECT 1")
    finally:
        await db.dispose()


async def _backend_pid(db: Database) -> int:
    async with db.engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        return pid


async def _terminate(pid: int) -> None:
    killer = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()


@pytest.mark.postgres
async def test_a_pooled_connection_that_died_while_idle_is_replaced(
    pg: Database, monkeypatch: pytest.MonkeyPatch
):
    # Every checkout counts as idle: the pooled connection is pinged before use.
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    dead = await _backend_pid(pg)
    await _terminate(dead)
    assert await _backend_pid(pg) != dead  # no error: a new connection took its place
    assert await pg.call("SELECT 1") == 1


@pytest.mark.postgres
async def test_only_a_connection_idle_for_a_while_is_pinged(
    pg: Database, monkeypatch: pytest.MonkeyPatch
):
    pings: list[object] = []
    real_ping = AsyncAdapt_asyncpg_connection.ping

    def counted_ping(self: Any) -> None:
        pings.append(self)
        real_ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted_ping)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 60.0)
    await pg.engine.dispose()  # an empty pool: the next checkout connects anew
    first = await _backend_pid(pg)
    assert len(pings) == 1  # a new connection has never been checked in: pinged
    assert await _backend_pid(pg) == first
    assert len(pings) == 1  # back a moment ago: handed out as it is
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert await _backend_pid(pg) == first
    assert len(pings) == 2  # idle for longer than the window: pinged
