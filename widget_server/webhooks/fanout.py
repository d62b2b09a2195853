"""From events to deliveries: each new event becomes one delivery per endpoint that wants
it, decided when the worker fans it out (so an endpoint's filter applies from the moment
it is saved; events written before an endpoint existed are not sent to it).

Claiming is one conditional UPDATE (``fanned_out`` false → true) in the transaction that
inserts the deliveries: a second worker running the same statement finds the events
taken (PostgreSQL re-checks the WHERE after the first commits; SQLite writes one at a
time), so an event is fanned out once. Deliveries are inserted in event order: per
endpoint and user, delivery ids follow event ids, which is the order they are sent in.

Who gets what (``matches``): a pool's endpoint every event of its pool; an app's
endpoint the ``user.*`` events of the pools the app accepts, and the ``login.*`` events
of sign-ins to that app only (another app's logins are not its business).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import msgspec
from sqlalchemy import Connection, Table, bindparam, exists, insert, select, update

from widget_server.models import App, WebhookDelivery, WebhookEndpoint, WebhookEvent
from widget_server.webhooks.events import LOGIN_EVENTS, USER_EVENTS
from widget_server.webhooks.subscriptions import selected

BATCH = 200

_EVENTS = cast(Table, WebhookEvent.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_ev = _EVENTS.c


class NewEvent(msgspec.Struct, frozen=True):
    id: int
    tenant_id: str
    pool_id: str | None
    app_id: str | None
    type: str
    user_id: str | None


class Target(msgspec.Struct, frozen=True):
    id: str
    pool_id: str | None
    app_id: str | None
    event_types: frozenset[str]
    #: The pools an app's endpoint hears about (the app's ``pool_ids``).
    app_pools: frozenset[str]


#: Is there anything to fan out? A read, so an idle worker never takes SQLite's write lock.
ANY_NEW = select(exists().where(_ev.fanned_out.is_(False)))
_CLAIM = (
    update(_EVENTS)
    .where(
        _ev.id.in_(
            select(_ev.id)
            .where(_ev.fanned_out.is_(False))
            .order_by(_ev.id)
            .limit(BATCH)
            .scalar_subquery()
        ),
        _ev.fanned_out.is_(False),
    )
    .values(fanned_out=True)
    .returning(_ev.id, _ev.tenant_id, _ev.pool_id, _ev.app_id, _ev.type, _ev.user_id)
)
_TARGETS = (
    select(
        WebhookEndpoint.id,
        WebhookEndpoint.tenant_id,
        WebhookEndpoint.pool_id,
        WebhookEndpoint.app_id,
        WebhookEndpoint.event_types,
        App.pool_ids,
    )
    .outerjoin(App, App.id == WebhookEndpoint.app_id)
    .where(
        WebhookEndpoint.tenant_id.in_(bindparam("tenants", expanding=True)),
        WebhookEndpoint.enabled.is_(True),
        WebhookEndpoint.app_id.is_(None) | App.revoked_at.is_(None),
    )
    .order_by(WebhookEndpoint.id)
)
INSERT_DELIVERY = insert(_DELIVERIES)


def anything_new(connection: Connection) -> bool:
    return bool(connection.execute(ANY_NEW).scalar())


def fan_out(connection: Connection, now: datetime) -> int:
    """Fan out up to ``BATCH`` events, oldest first; return how many were taken."""
    claimed = [NewEvent(*row) for row in connection.execute(_CLAIM)]
    if not claimed:
        return 0
    claimed.sort(key=lambda event: event.id)  # RETURNING promises no order
    targets = _targets(connection, {event.tenant_id for event in claimed})
    rows = [
        delivery_row(target.id, event.id, event.user_id, now)
        for event in claimed
        for target in targets.get(event.tenant_id, ())
        if matches(target, event)
    ]
    if rows:
        connection.execute(INSERT_DELIVERY, rows)
    return len(claimed)


def _targets(connection: Connection, tenants: set[str]) -> dict[str, list[Target]]:
    found: dict[str, list[Target]] = {}
    for endpoint_id, tenant_id, pool_id, app_id, event_types, app_pools in connection.execute(
        _TARGETS, {"tenants": sorted(tenants)}
    ):
        found.setdefault(tenant_id, []).append(
            Target(
                id=endpoint_id,
                pool_id=pool_id,
                app_id=app_id,
                event_types=selected(event_types),
                app_pools=frozenset(app_pools or ()),
            )
        )
    return found


def matches(target: Target, event: NewEvent) -> bool:
    if event.type not in target.event_types:
        return False
    if target.pool_id is not None:
        return event.pool_id == target.pool_id
    if event.pool_id not in target.app_pools:
        return False
    if event.type in LOGIN_EVENTS:
        return event.app_id == target.app_id
    return event.type in USER_EVENTS


def delivery_row(
    endpoint_id: str,
    event_id: int,
    user_id: str | None,
    now: datetime,
    trigger: str = "event",
) -> dict[str, Any]:
    return {
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "user_id": user_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "trigger": trigger,
        "last_status_code": None,
        "last_error": None,
        "created_at": now,
        "finished_at": None,
    }
