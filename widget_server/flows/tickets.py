"""Signed tickets: an unsaved flow's few facts, carried in its form instead of a row.

Opening a form must not write (anonymous GETs would fill the database), yet its POST must
know what the GET decided (pool, parent origin, app, when). The ticket carries those
values, base64-encoded JSON, with an HMAC bound to the flow id and a purpose, so it can be
neither altered nor moved to another flow or another kind of flow.

Each kind of flow signs under its own purpose and lists the facts in its own order
(``TicketFormat``). The orders differ for history only; they are kept so that a form
opened just before a release still posts just after it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from widget_server import secrets_
from widget_server.models import Flow
from widget_server.services import Services

Fact = Literal["pool", "origin", "app", "issued"]
_ORDER: tuple[Fact, ...] = ("pool", "origin", "app", "issued")


def sign(services: Services, purpose: str, flow_id: str, fields: list[Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
    signature = secrets_.keyed_hash(services.settings.secret_key, purpose, flow_id, payload)
    return f"{payload}.{signature}"


def unsign(services: Services, purpose: str, flow_id: str, ticket: str) -> list[Any] | None:
    """The fields of a ticket made by ``sign`` for this purpose and flow, else None."""
    payload, _, signature = ticket.partition(".")
    key = services.settings.secret_key
    if not secrets_.matches(signature, key, purpose, flow_id, payload):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return fields if isinstance(fields, list) else None


class Facts(NamedTuple):
    """What a ticket says about its unsaved flow."""

    pool_id: str
    origin: str | None
    app_id: str | None
    created: datetime


@dataclass(frozen=True, slots=True)
class TicketFormat:
    """How one kind of flow writes its tickets: the HMAC purpose and the order of the
    facts. An empty last fact (no app, say) is left out, and read back as empty."""

    purpose: str
    facts: tuple[Fact, ...]
    # Picks (pool, origin, app, issued) out of the fields padded with empties; a fact the
    # format does not have reads the last empty. Built once: decoding is on every POST.
    _pick: Callable[[list[Any]], tuple[Any, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        where = [self.facts.index(f) if f in self.facts else len(self.facts) for f in _ORDER]
        object.__setattr__(self, "_pick", itemgetter(*where))

    def encode(self, services: Services, flow: Flow) -> str:
        values: dict[Fact, str | int] = {
            "pool": flow.pool_id,
            "origin": flow.parent_origin or "",
            "app": flow.app_id or "",
            "issued": int(flow.created_at.timestamp()),
        }
        fields = [values[fact] for fact in self.facts]
        while fields and fields[-1] == "":
            fields.pop()
        return sign(services, self.purpose, flow.id, fields)

    def decode(self, services: Services, flow_id: str, ticket: str) -> Facts | None:
        """The facts of a ticket this format signed for ``flow_id``, else None."""
        fields = unsign(services, self.purpose, flow_id, ticket)
        if fields is None or len(fields) > len(self.facts):
            return None
        fields.extend([""] * (len(self.facts) + 1 - len(fields)))
        pool_id, origin, app_id, issued = self._pick(fields)
        if not (isinstance(pool_id, str) and isinstance(origin, str) and isinstance(app_id, str)):
            return None
        try:
            created = datetime.fromtimestamp(int(issued), UTC)
        except (ValueError, TypeError, OverflowError):
            return None
        return Facts(pool_id, origin or None, app_id or None, created)
