"""The deliveries as a queue: what is due, claiming it, recording what happened.

Per endpoint and user, one delivery at a time and in order: a delivery is due only when
no earlier delivery of the same endpoint and user is still pending (``_NO_EARLIER``).
An earlier one that waits for its retry therefore holds the later ones back, for that
endpoint and user only; a delivery with no user (a failed login of an unknown
identifier, a test event) waits for nobody.

Claiming works like the mail outbox (``mail/outbox.py``): ``next_attempt_at`` is moved
forward by ``lease`` with a conditional UPDATE, so any number of server processes can
run workers against one database; a worker that dies mid-request leaves the delivery to
be claimed again when the lease ends (at least once, with the same ``webhook-id``).

Retries follow ``SCHEDULE``: after the n-th failed attempt the next comes ``SCHEDULE[n-1]``
later; after the last one (some 32 hours after the first) the delivery is ``failed``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy import Connection, Table, and_, bindparam, delete, exists, insert, select, update
from sqlalchemy.orm import aliased

from widget_server.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from widget_server.webhooks.http import Outcome

SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s)
    for s in (5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800, 28800)
)
MAX_ATTEMPTS = len(SCHEDULE) + 1
#: How long finished deliveries (and their attempts) stay in the delivery log.
KEEP_FINISHED = timedelta(days=30)

_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_ATTEMPTS = cast(Table, WebhookAttempt.__table__)
_d = _DELIVERIES.c
_earlier = aliased(WebhookDelivery)

_NO_EARLIER = ~exists().where(
    _earlier.endpoint_id == _d.endpoint_id,
    _earlier.user_id == _d.user_id,
    _earlier.status == "pending",
    _earlier.id < _d.id,
)
_DUE = (_d.status == "pending", _d.next_attempt_at <= bindparam("now"))
#: Due deliveries, oldest first, leaving out endpoints this worker has no room for.
_CANDIDATES = (
    select(_d.id, _d.endpoint_id)
    .join(WebhookEndpoint, WebhookEndpoint.id == _d.endpoint_id)
    .where(
        *_DUE,
        WebhookEndpoint.enabled.is_(True),
        _d.endpoint_id.not_in(bindparam("busy", expanding=True)),
        _NO_EARLIER,
    )
    .order_by(_d.id)
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(_DELIVERIES)
    .where(_d.id.in_(bindparam("ids", expanding=True)), *_DUE)
    .values(next_attempt_at=bindparam("lease_until"))
    .returning(_d.id)
)
_JOBS = (
    select(
        _d.id,
        _d.endpoint_id,
        _d.attempts,
        WebhookEvent.message_id,
        WebhookEvent.type,
        WebhookEvent.data,
        WebhookEvent.created_at,
        WebhookEndpoint.url,
        WebhookEndpoint.secret,
        WebhookEndpoint.previous_secret,
        WebhookEndpoint.previous_secret_until,
    )
    .join(WebhookEvent, WebhookEvent.id == _d.event_id)
    .join(WebhookEndpoint, WebhookEndpoint.id == _d.endpoint_id)
    .where(_d.id.in_(bindparam("ids", expanding=True)))
    .order_by(_d.id)
)
INSERT_ATTEMPT = insert(_ATTEMPTS)


class Job(msgspec.Struct, frozen=True):
    """A claimed delivery with what sending it needs (secrets still sealed)."""

    delivery_id: int
    endpoint_id: str
    attempts: int
    message_id: str
    type: str
    data: dict[str, Any]
    created_at: datetime
    url: str
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None


def candidates(
    connection: Connection, now: datetime, busy: Collection[str], limit: int
) -> list[tuple[int, str]]:
    """(delivery id, endpoint id) of due deliveries, oldest first; a read."""
    params = {"now": now, "busy": sorted(busy), "limit": limit}
    return [(row[0], row[1]) for row in connection.execute(_CANDIDATES, params)]


def claim(connection: Connection, ids: Sequence[int], now: datetime, lease: timedelta) -> list[Job]:
    """Lease the deliveries ``ids`` that are still due and return them as jobs."""
    if not ids:
        return []
    params = {"ids": list(ids), "now": now, "lease_until": now + lease}
    taken = [row[0] for row in connection.execute(_CLAIM, params)]
    if not taken:
        return []
    return [Job(*row) for row in connection.execute(_JOBS, {"ids": taken})]


def record(
    connection: Connection,
    job: Job,
    outcome: Outcome,
    started: datetime,
    now: datetime,
    excerpt: str,
) -> None:
    """The attempt in the log, and the delivery done, rescheduled or given up."""
    number = job.attempts + 1
    changed = connection.execute(
        update(_DELIVERIES)
        .where(_d.id == job.delivery_id)
        .values(
            attempts=number,
            last_status_code=outcome.status_code,
            last_error=outcome.error,
            **_next(number, outcome.ok, now),
        )
    )
    if changed.rowcount == 0:
        return  # the endpoint was deleted meanwhile, and its deliveries with it
    connection.execute(
        INSERT_ATTEMPT,
        {
            "delivery_id": job.delivery_id,
            "endpoint_id": job.endpoint_id,
            "number": number,
            "started_at": started,
            "duration_ms": outcome.duration_ms,
            "status_code": outcome.status_code,
            "error": outcome.error,
            "request_excerpt": excerpt,
            "response_excerpt": outcome.response_excerpt,
        },
    )


def _next(number: int, ok: bool, now: datetime) -> dict[str, Any]:
    if ok:
        return {"status": "succeeded", "finished_at": now}
    if number >= MAX_ATTEMPTS:
        return {"status": "failed", "finished_at": now}
    return {"next_attempt_at": now + SCHEDULE[number - 1]}


def purge(connection: Connection, now: datetime) -> int:
    """Drop finished deliveries past ``KEEP_FINISHED`` (their attempts go with them), then
    events past it that nothing refers to any more; return how many rows went."""
    before = now - KEEP_FINISHED
    deliveries = connection.execute(
        delete(_DELIVERIES).where(_d.status != "pending", _d.finished_at < before)
    )
    unreferenced = ~exists().where(_d.event_id == WebhookEvent.id)
    events = connection.execute(
        delete(WebhookEvent).where(
            and_(
                WebhookEvent.fanned_out.is_(True),
                WebhookEvent.created_at < before,
                unreferenced,
            )
        )
    )
    return int(deliveries.rowcount + events.rowcount)
