"""Which event types a pool's endpoints want, loaded with the pool's snapshot.

``PoolView.webhook_events`` is what the hot paths ask (``emit.wants``) before writing an
event; it is loaded with the pool and cached with it (``pools.PoolDirectory``), so a pool
without endpoints costs a registration nothing. Changing an endpoint bumps the version
of the pools it concerns and drops them from every process's cache (``PoolDirectory.forget``
tells the others over ``changes.py``; should that fail, their copy expires within
``pools.CACHE_SECONDS``, and events of those seconds reach a new endpoint only if another
endpoint of the pool wanted them already).

An endpoint concerns a pool when it is the pool's, or when it is an app's and the app
(not revoked) accepts the pool. An app's endpoint receives the ``user.*`` events of those
pools and the ``login.*`` events of sign-ins to that app (``fanout.matches``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import App, WebhookEndpoint
from widget_server.webhooks.events import EVENT_TYPES


async def subscribed_events(session: AsyncSession, tenant_id: str, pool_id: str) -> frozenset[str]:
    """The event types some enabled endpoint concerning ``pool_id`` wants."""
    rows = await session.execute(
        select(WebhookEndpoint.event_types, App.pool_ids)
        .outerjoin(App, App.id == WebhookEndpoint.app_id)
        .where(
            WebhookEndpoint.tenant_id == tenant_id,
            WebhookEndpoint.enabled.is_(True),
            or_(
                WebhookEndpoint.pool_id == pool_id,
                (WebhookEndpoint.app_id.is_not(None)) & App.revoked_at.is_(None),
            ),
        )
    )
    wanted: set[str] = set()
    for event_types, app_pools in rows:
        if app_pools is not None and pool_id not in app_pools:
            continue
        wanted |= selected(event_types)
    return frozenset(wanted)


def selected(event_types: Iterable[str] | None) -> frozenset[str]:
    """An endpoint's filter as a set of types; an empty filter means every type."""
    chosen = frozenset(event_types or ())
    return chosen if chosen else frozenset(EVENT_TYPES)
