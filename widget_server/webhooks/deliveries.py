"""An endpoint's delivery log, resending one delivery, and sending a test event.

The log lists deliveries newest first, each with its attempts (number, time, duration,
status code or error, excerpts of the request and of the answer). Request excerpts hold
user data (the event's payload), so they are shown only to principals whose role may
read users (``users.read``); everyone with ``webhooks.read`` sees the rest.

A resend is a new delivery of the same event to the same endpoint, with a fresh retry
schedule and the same ``webhook-id`` (receivers drop what they have seen). A test event
(``webhook.test``) goes to the one endpoint it was sent for, whatever its filter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin.access import PERMISSIONS, Actor
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.messages import msg
from widget_server.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from widget_server.services import Services
from widget_server.webhooks import emit, events, fanout
from widget_server.webhooks.manage import endpoint_for, record_change

MAX_LIMIT = 200
STATUSES = ("pending", "succeeded", "failed")


class DeliveryView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    event_id: int
    #: The ``webhook-id`` header the receiver saw.
    message_id: str
    event_type: str
    status: str  # pending | succeeded | failed
    #: "event", "resend" or "test".
    trigger: str
    attempts: int
    #: When the next attempt is due (pending deliveries only).
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class AttemptView(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None
    #: The start of the request body; None for principals who may not read users.
    request_excerpt: str | None
    response_excerpt: str | None


class DeliveryDetail(msgspec.Struct, frozen=True, kw_only=True):
    delivery: DeliveryView
    attempts: list[AttemptView]


async def list_deliveries(
    services: Services,
    actor: Actor,
    endpoint_id: str,
    *,
    status: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    await endpoint_for(services, actor, "webhooks.read", endpoint_id)
    _check_filters(status, limit)
    query = _DELIVERY.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    async with services.db.read() as session:
        rows = await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))
        return [_view(row) for row in rows]


async def get_delivery(
    services: Services, actor: Actor, endpoint_id: str, delivery_id: int
) -> DeliveryDetail:
    await endpoint_for(services, actor, "webhooks.read", endpoint_id)
    async with services.db.read() as session:
        row = (
            await session.execute(
                _DELIVERY.where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
                )
            )
        ).first()
        if row is None:
            raise NotFound("webhook_delivery")
        attempts = (
            await session.execute(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.number, WebhookAttempt.id)
            )
        ).scalars()
        shows_data = "users.read" in PERMISSIONS[actor.principal.role]
        return DeliveryDetail(
            delivery=_view(row), attempts=[_attempt(a, shows_data) for a in attempts]
        )


async def resend(
    services: Services, actor: Actor, endpoint_id: str, delivery_id: int
) -> DeliveryView:
    endpoint = await endpoint_for(services, actor, "webhooks.write", endpoint_id)
    if not endpoint.enabled:
        raise Conflict("webhook.disabled")
    now = services.clock.now()
    async with services.db.write() as session:
        found = (
            await session.execute(
                select(WebhookDelivery.event_id, WebhookDelivery.user_id).where(
                    WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
                )
            )
        ).first()
        if found is None:
            raise NotFound("webhook_delivery")
        new_id = await _insert(
            session, fanout.delivery_row(endpoint_id, found[0], found[1], now, "resend")
        )
        await record_change(
            session, actor, "webhook.resend", endpoint, now, {"delivery": delivery_id}
        )
        view = await _one(session, new_id)
    services.notify_webhooks()
    return view


async def send_test(services: Services, actor: Actor, endpoint_id: str) -> DeliveryView:
    """A ``webhook.test`` event to this endpoint only."""
    endpoint = await endpoint_for(services, actor, "webhooks.write", endpoint_id)
    if not endpoint.enabled:
        raise Conflict("webhook.disabled")
    now = services.clock.now()
    data = events.WebhookTestData(
        endpoint_id=endpoint_id, message="A test event, sent from the developer portal."
    )
    # Fanned out already: it has exactly one delivery, made here.
    row = emit.event_row(
        tenant_id=endpoint.tenant_id,
        pool_id=endpoint.pool_id,
        app_id=endpoint.app_id,
        event_type=events.WEBHOOK_TEST,
        data=data,
        now=now,
        fanned_out=True,
    )
    async with services.db.write() as session:
        event_id = (
            await session.execute(emit.INSERT_EVENT.returning(WebhookEvent.id), row)
        ).scalar_one()
        new_id = await _insert(
            session, fanout.delivery_row(endpoint_id, event_id, None, now, "test")
        )
        await record_change(session, actor, "webhook.test", endpoint, now, {})
        view = await _one(session, new_id)
    services.notify_webhooks()
    return view


async def _insert(session: AsyncSession, row: dict[str, Any]) -> int:
    result = await session.execute(fanout.INSERT_DELIVERY.returning(WebhookDelivery.id), row)
    return int(result.scalar_one())


_DELIVERY = select(
    WebhookDelivery.id,
    WebhookDelivery.event_id,
    WebhookEvent.message_id,
    WebhookEvent.type,
    WebhookDelivery.status,
    WebhookDelivery.trigger,
    WebhookDelivery.attempts,
    WebhookDelivery.next_attempt_at,
    WebhookDelivery.last_status_code,
    WebhookDelivery.last_error,
    WebhookDelivery.created_at,
    WebhookDelivery.finished_at,
).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)


async def _one(session: AsyncSession, delivery_id: int) -> DeliveryView:
    row = (await session.execute(_DELIVERY.where(WebhookDelivery.id == delivery_id))).one()
    return _view(row)


def _view(row: Any) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        event_id=row.event_id,
        message_id=row.message_id,
        event_type=row.type,
        status=row.status,
        trigger=row.trigger,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _attempt(attempt: WebhookAttempt, shows_data: bool) -> AttemptView:
    return AttemptView(
        number=attempt.number,
        started_at=attempt.started_at,
        duration_ms=attempt.duration_ms,
        status_code=attempt.status_code,
        error=attempt.error,
        request_excerpt=attempt.request_excerpt if shows_data else None,
        response_excerpt=attempt.response_excerpt,
    )


def _check_filters(status: str | None, limit: int) -> None:
    errors = {}
    if status is not None and status not in STATUSES:
        errors["status"] = [msg("form.enum")]
    if not 1 <= limit <= MAX_LIMIT:
        errors["limit"] = [msg("admin.limit", max=MAX_LIMIT)]
    if errors:
        raise InvalidInput(errors)
