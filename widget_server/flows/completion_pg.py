"""The registration's completion on PostgreSQL: one call of a database function.

``complete_registration`` (``completion.py``) is ten statements; through asyncpg each
is a round trip whose client side costs the event loop ~0.4 ms in a burst, most of a
registration's CPU beside the hash. Here the same ``Completion`` becomes one JSON
document for ``widget_complete_registration_v3`` (migration 0016; v2 of migration 0007
did less work for a taken address than for a new one, a timing tell), sent in one
statement on the driver's connection, outside any transaction of SQLAlchemy's: a
function call is atomic on its own, so no BEGIN and COMMIT either.

The rows go whole, with the models' Python defaults filled in (the function inserts
``jsonb_populate_record`` rows, which would leave a missing key NULL). Both outbox rows
are rendered beforehand, the activation code and the notice to the owner of an
address that is taken (~20 us), and the function stores the one that applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from typing import Any, cast

import msgspec
from sqlalchemy import Column, Table

from widget_server.db import Database
from widget_server.errors import FlowStateError
from widget_server.fastsql import python_default
from widget_server.flows.completion import Completion
from widget_server.mail.outbox import HOUR, outbox_row
from widget_server.models import Address, Code, Credential, Flow, User, WebhookEvent

CALL = "SELECT widget_complete_registration_v3($1::jsonb)"

_FLOWS = cast(Table, Flow.__table__)
_USERS = cast(Table, User.__table__)
_ADDRESSES = cast(Table, Address.__table__)
_CREDENTIALS = cast(Table, Credential.__table__)
_CODES = cast(Table, Code.__table__)
_EVENTS = cast(Table, WebhookEvent.__table__)


async def complete_registration_pg(db: Database, plan: Completion) -> bool:
    """As ``complete_registration``: False if the address already had an account,
    ``FlowStateError`` if another request completed the flow first."""
    outcome = await db.call(CALL, msgspec.json.encode(document(plan)).decode())
    if outcome == "replayed":
        raise FlowStateError()
    if outcome not in ("created", "taken"):
        raise RuntimeError(f"widget_complete_registration_v3 answered {outcome!r}")
    return bool(outcome == "created")


def document(plan: Completion) -> dict[str, Any]:
    """The function's argument: every row whole, both emails rendered."""
    new_flow = None
    if plan.new_flow is not None:
        new_flow = whole_row(_FLOWS, plan.new_flow | plan.flow_changes)
    return {
        "new_flow": new_flow,
        "flow_id": plan.flow_id,
        "flow_step": plan.flow_step,
        "flow_changes": plan.flow_changes,
        "user": whole_row(_USERS, plan.user),
        "address": whole_row(_ADDRESSES, plan.address),
        "credential": whole_row(_CREDENTIALS, plan.credential),
        "code": whole_row(_CODES, plan.code),
        "abandoned_before": plan.abandoned_before,
        "since": plan.now - HOUR,
        "mail_per_hour": plan.mail_per_hour,
        "message": outbox_row(plan.compose(False), plan.now, plan.channel),
        "notice": outbox_row(plan.compose(True), plan.now, plan.channel),
        "event": plan.event and whole_row(_EVENTS, plan.event),
        "released_event": plan.released_event and whole_row(_EVENTS, plan.released_event),
    }


def whole_row(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` by column name, plus each missing column's Python default (scalar or
    no-argument callable) or None. Unknown keys are refused, and so are missing columns
    with server-side defaults: the function would drop the one and write NULL over
    the other."""
    names, defaults = _columns(table)
    if not values.keys() <= names:
        raise KeyError(f"{table.name}: no column {sorted(values.keys() - names)}")
    return {name: values[name] if name in values else make() for name, make in defaults}


@lru_cache(maxsize=32)
def _columns(table: Table) -> tuple[frozenset[str], tuple[tuple[str, Callable[[], Any]], ...]]:
    """Per table, once: its column names and how to fill each one that is missing."""
    return frozenset(column.name for column in table.columns), tuple(
        (column.name, _default(table, column)) for column in table.columns
    )


def _default(table: Table, column: Column[Any]) -> Callable[[], Any]:
    where = f"{table.name}.{column.name}"
    if column.server_default is not None:
        return partial(_refuse, f"{where} has a server default; give it a value")
    make = python_default(column)
    if make is not None:
        return make
    if column.default is not None:
        return partial(_refuse, f"{where} has an SQL-expression default; give it a value")
    return lambda: None


def _refuse(reason: str) -> Any:
    raise NotImplementedError(reason)
