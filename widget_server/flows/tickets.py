"""Signed tickets: an unsaved flow's few facts, carried in its form instead of a row.

Opening a form must not write (anonymous GETs would fill the database), yet its POST must
know what the GET decided (pool, parent origin, app, when). The ticket carries those
values, base64-encoded JSON, with an HMAC bound to the flow id and a purpose, so it can be
neither altered nor moved to another flow or another kind of flow.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from widget_server import secrets_
from widget_server.errors import FlowNotFound
from widget_server.models import Flow, transient
from widget_server.services import Services


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


def unsaved_flow(
    services: Services,
    *,
    kind: str,
    pool_id: str,
    state: str,
    flow_id: str,
    origin: str | None,
    created: datetime,
    app_id: str | None = None,
) -> Flow:
    """A flow that is not stored yet: it travels as a signed ticket until its first valid
    POST, so opening a form writes nothing."""
    return transient(
        Flow,
        id=flow_id,
        kind=kind,
        pool_id=pool_id,
        state=state,
        step="",
        data={},
        password_hash=None,
        parent_origin=origin,
        app_id=app_id,
        oauth={},
        user_id=None,
        address=None,
        expires_at=created + timedelta(seconds=services.settings.flow_ttl_seconds),
        created_at=created,
        updated_at=created,
    )


async def stored_flow(services: Services, pool_id: str, flow_id: str, kind: str) -> Flow:
    """A saved flow of ``kind`` in the pool; anything else (too long an id, another pool's
    or another kind's flow, none at all) is the same ``FlowNotFound``."""
    if len(flow_id) > 64:
        raise FlowNotFound()
    async with services.db.read() as session:
        flow = await session.get(Flow, flow_id)
    if flow is None or flow.pool_id != pool_id or flow.kind != kind:
        raise FlowNotFound()
    return flow
