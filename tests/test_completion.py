"""The registration's completion on SQLite (flows/completion.py): a new address and a
taken one run the same statements, in the same order, so that the answer's time does
not tell them apart. The statistical check of the whole POST is tests/web/test_timing.py;
this one is exact and cheap, and names the statement that differs when it fails."""

from __future__ import annotations

import itertools
import re
import sqlite3
from typing import Any

import pytest
from sqlalchemy import Connection, select

from tests.conftest import Harness
from widget_server.flows import registration
from widget_server.flows.completion import complete_registration
from widget_server.models import Address, User

PASSWORD = "Blue-Harbour-Kettle-42"


def _shape(sql: str) -> str:
    """A statement as its verb and table: ``INSERT users``, ``SELECT addresses``."""
    words = re.sub(r"[(),]", " ", sql).split()
    verb = words[0].upper()
    if verb in ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK"):
        return " ".join(w for w in words[:3] if not w.startswith("sa_savepoint")).upper()
    after = {"INSERT": "INTO", "DELETE": "FROM", "SELECT": "FROM", "UPDATE": "UPDATE"}[verb]
    return f"{verb} {words[[w.upper() for w in words].index(after) + 1]}"


def _runs(shapes: list[str]) -> list[str]:
    """Consecutive repeats as one: SQLite traces an ``INSERT … RETURNING`` each time it
    steps it."""
    return [shape for shape, _ in itertools.groupby(shapes)]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_taken_address_runs_the_statements_of_a_new_one(
    harness: Harness, widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What SQLite itself ran (its trace callback), statement for statement: a taken
    address writes the new account's rows too and rolls them back to a savepoint."""
    ran: list[str] = []

    def traced(connection: Connection, plan: Any) -> bool:
        dbapi = connection.connection.dbapi_connection
        assert isinstance(dbapi, sqlite3.Connection)
        dbapi.set_trace_callback(lambda sql: ran.append(_shape(sql)))
        try:
            return complete_registration(connection, plan)
        finally:
            dbapi.set_trace_callback(None)

    monkeypatch.setattr(registration, "complete_registration", traced)
    paths: dict[str, list[list[str]]] = {}
    for address in ("ada@example.com", "ada@example.com", "bob@example.com"):
        ran.clear()
        await _register(widget, address)
        paths.setdefault(address, []).append(list(ran))
    new, taken = paths["ada@example.com"]
    assert new == paths["bob@example.com"][0]
    assert _runs(new) == [
        "SELECT addresses",  # the address's owner
        "BEGIN",  # opened by the first write, before the savepoint
        "INSERT flows",
        "INSERT codes",
        "SELECT outbox",  # the hourly count
        "INSERT outbox",
        "SAVEPOINT",
        "INSERT users",
        "INSERT addresses",
        "INSERT credentials",
        "RELEASE SAVEPOINT",
    ]
    differing = [(a, b) for a, b in zip(new, taken, strict=True) if a != b]
    assert differing == [("RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")]
    async with harness.web.services.db.read() as session:
        users = (await session.execute(select(User.payload))).scalars().all()
        values = (await session.execute(select(Address.value))).scalars().all()
    assert sorted(u["email"] for u in users) == ["ada@example.com", "bob@example.com"]
    assert sorted(values) == ["ada@example.com", "bob@example.com"]  # no stand-in kept


async def _register(widget: Any, address: str) -> None:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=address, password=PASSWORD)
    assert page.state == "code"
