"""The registration's completion on SQLite (flows/completion.py): a new address and a
taken one run as many statements, in the same order, so that the answer's time does
not tell them apart. The statistical check of the whole POST is tests/web/test_timing.py;
this one is exact and cheap, and names the statement that differs when it fails."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import Connection

from tests.conftest import Harness
from widget_server.fastsql import Prepared

PASSWORD = "Blue-Harbour-Kettle-42"


def _verb(prepared: Prepared) -> str:
    return str(prepared.statement).split(None, 1)[0]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_taken_address_runs_as_many_statements_as_a_new_one(
    harness: Harness, widget: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []
    execute = Prepared.execute

    def counted(self: Prepared, connection: Connection, params: Mapping[str, Any]) -> Any:
        ran.append(_verb(self))
        return execute(self, connection, params)

    monkeypatch.setattr(Prepared, "execute", counted)
    paths: dict[str, list[list[str]]] = {}
    for address in ("ada@example.com", "ada@example.com", "bob@example.com"):
        ran.clear()
        await _register(widget, address)
        paths.setdefault(address, []).append(list(ran))
    new, taken = paths["ada@example.com"]
    assert new == paths["bob@example.com"][0]
    assert len(taken) == len(new) == 8
    # One for one: only the credential's INSERT is the taken user's DELETE.
    differing = [(a, b) for a, b in zip(new, taken, strict=True) if a != b]
    assert differing == [("INSERT", "DELETE")]


async def _register(widget: Any, address: str) -> None:
    w = widget("partner-1")
    await w.open()
    page = await w.post(email=address, password=PASSWORD)
    assert page.state == "code"
