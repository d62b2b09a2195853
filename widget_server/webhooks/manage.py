"""Webhook endpoints, administered: list, read, create, change, delete, rotate the secret.

An endpoint belongs to one pool or one app. Access goes through ``admin.access``
(``webhooks.read`` / ``webhooks.write``): a pool's endpoints need the pool in the
principal's scope (its pool, or a pool of its workspace), an app's endpoints a
tenant-wide principal, scoped to neither a pool nor a workspace (an app spans pools).
An endpoint outside the caller's tenant or scope is ``NotFound``, exactly like a missing
one, and the attempt is audited as denied. Every change is audited in its own
transaction; audit details name fields and the URL's host, never a secret.

The signing secret is returned once, by ``create_endpoint`` and ``rotate_secret``
(stored sealed: ``signing.seal``). A rotation keeps the previous secret signing for
a grace period (default a day), so a partner can deploy the new one without missing an
event; rotating again during it retires the oldest at once.

Changing endpoints bumps the version of the pools they concern and forgets them in this
process's pool cache, so ``PoolView.webhook_events`` (what the flows check before they
write an event) follows (``subscriptions``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import access, audit
from widget_server.admin.access import Action, Actor, pool_scope, require, sees_pool
from widget_server.admin.guard import guard
from widget_server.admin.validation import Problems
from widget_server.errors import Forbidden, NotFound, PoolNotFound
from widget_server.models import App, Pool, WebhookEndpoint
from widget_server.services import Services
from widget_server.webhooks import signing
from widget_server.webhooks.events import EVENT_TYPES
from widget_server.webhooks.urls import check_url

TARGET = "webhook_endpoint"
MAX_PER_OWNER = 20
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)
_Description = Annotated[str, msgspec.Meta(max_length=200)]


class EndpointView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    pool_id: str | None
    app_id: str | None
    url: str
    description: str
    #: Event types delivered; empty means every type.
    event_types: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    #: While set (and in the future), the previous secret signs too.
    previous_secret_until: datetime | None


class EndpointSecret(msgspec.Struct, frozen=True, kw_only=True):
    endpoint: EndpointView
    #: ``whsec_...``: shown this once, store it now.
    secret: str


class EndpointSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What may be set on an endpoint; ``None`` leaves a value as it is."""

    url: str | None = None
    description: _Description | None = None
    event_types: list[str] | None = None
    enabled: bool | None = None


class NewEndpoint(EndpointSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str
    #: Exactly one of the two.
    pool_id: str | None = None
    app_id: str | None = None


class EndpointPatch(EndpointSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


# --- reading ----------------------------------------------------------------------------


async def list_endpoints(
    services: Services, actor: Actor, *, pool_id: str | None = None, app_id: str | None = None
) -> list[EndpointView]:
    """A pool's or an app's endpoints; with neither, every endpoint the caller may see."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == actor.tenant_id)
    if pool_id is not None or app_id is not None:
        await guard_owner(services, actor, "webhooks.read", pool_id=pool_id, app_id=app_id)
        query = query.where(
            WebhookEndpoint.pool_id == pool_id
            if pool_id is not None
            else WebhookEndpoint.app_id == app_id
        )
    else:
        await guard(services, actor, "webhooks.read", target_type=TARGET)
        principal = actor.principal
        pools = pool_scope(principal)
        if pools is not None:
            query = query.where(WebhookEndpoint.pool_id.in_(pools))
        elif principal.workspace_id is not None:
            members = select(Pool.id).where(Pool.workspace_id == principal.workspace_id)
            query = query.where(WebhookEndpoint.pool_id.in_(members))
    async with services.db.read() as session:
        rows = await session.execute(query.order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))
        return [view(row) for row in rows.scalars()]


async def get_endpoint(services: Services, actor: Actor, endpoint_id: str) -> EndpointView:
    return view(await endpoint_for(services, actor, "webhooks.read", endpoint_id))


# --- changing ---------------------------------------------------------------------------


async def create_endpoint(services: Services, actor: Actor, new: NewEndpoint) -> EndpointSecret:
    problems = Problems()
    if (new.pool_id is None) == (new.app_id is None):
        problems.add("pool_id", "webhook.owner")
        problems.raise_if_any()
    await guard_owner(services, actor, "webhooks.write", pool_id=new.pool_id, app_id=new.app_id)
    values = _checked(services, new, problems)
    problems.raise_if_any()
    now, endpoint_id, secret = services.clock.now(), secrets_.new_id(), signing.new_secret()
    async with services.db.write() as session:
        await _check_room(session, new.pool_id, new.app_id, problems)
        problems.raise_if_any()
        row = WebhookEndpoint(
            id=endpoint_id,
            tenant_id=actor.tenant_id,
            pool_id=new.pool_id,
            app_id=new.app_id,
            url=values["url"],
            description=values.get("description", ""),
            event_types=values.get("event_types", []),
            enabled=values.get("enabled", True),
            secret=signing.seal(services.settings.secret_key, endpoint_id, secret),
            previous_secret=None,
            previous_secret_until=None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        await record_change(session, actor, "webhook.create", row, now, _details(row, values))
        pools = await _bump(session, row)
    _forget(services, pools)
    return EndpointSecret(endpoint=view(row), secret=secret)


async def update_endpoint(
    services: Services, actor: Actor, endpoint_id: str, patch: EndpointPatch
) -> EndpointView:
    await endpoint_for(services, actor, "webhooks.write", endpoint_id)
    problems = Problems()
    values = _checked(services, patch, problems)
    problems.raise_if_any()
    now = services.clock.now()
    async with services.db.write() as session:
        row = await _locked(session, actor, endpoint_id)
        if values:
            await session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == row.id)
                .values(**values, updated_at=now)
            )
            await session.refresh(row)
        await record_change(session, actor, "webhook.update", row, now, _details(row, values))
        pools = await _bump(session, row)
    _forget(services, pools)
    return view(row)


async def delete_endpoint(services: Services, actor: Actor, endpoint_id: str) -> None:
    """The endpoint and its delivery log go; events already fanned out to it are dropped."""
    await endpoint_for(services, actor, "webhooks.write", endpoint_id)
    now = services.clock.now()
    async with services.db.write() as session:
        row = await _locked(session, actor, endpoint_id)
        pools = await _bump(session, row)
        await record_change(session, actor, "webhook.delete", row, now, {"host": _host(row.url)})
        await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == row.id))
    _forget(services, pools)


async def rotate_secret(
    services: Services, actor: Actor, endpoint_id: str, grace_seconds: int | None = None
) -> EndpointSecret:
    """A new secret, returned once; the current one keeps signing for ``grace_seconds``
    (default a day, at most a week; 0 ends it at once)."""
    grace = DEFAULT_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
    if not timedelta(0) <= grace <= MAX_GRACE:
        problems = Problems()
        problems.add("grace_seconds", "webhook.grace", max=int(MAX_GRACE.total_seconds()))
        problems.raise_if_any()
    await endpoint_for(services, actor, "webhooks.write", endpoint_id)
    now, secret = services.clock.now(), signing.new_secret()
    async with services.db.write() as session:
        row = await _locked(session, actor, endpoint_id)
        keep = grace > timedelta(0)
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == row.id)
            .values(
                secret=signing.seal(services.settings.secret_key, row.id, secret),
                previous_secret=row.secret if keep else None,
                previous_secret_until=now + grace if keep else None,
                updated_at=now,
            )
        )
        await session.refresh(row)
        details = {"grace_seconds": int(grace.total_seconds())}
        await record_change(session, actor, "webhook.rotate_secret", row, now, details)
    return EndpointSecret(endpoint=view(row), secret=secret)


# --- access -----------------------------------------------------------------------------


async def guard_owner(
    services: Services,
    actor: Actor,
    action: Action,
    *,
    pool_id: str | None,
    app_id: str | None,
    target_id: str | None = None,
) -> None:
    """Check ``actor`` may do ``action`` on the endpoints of this pool or app."""
    if pool_id is not None:
        await guard(
            services, actor, action, pool_id=pool_id, target_type=TARGET, target_id=target_id
        )
        return
    await guard(services, actor, action, target_type=TARGET, target_id=target_id)
    async with services.db.read() as session:
        app = await session.get(App, (app_id or "")[:64])
    if app is None or app.tenant_id != actor.tenant_id or not tenant_wide(actor):
        await _denied(services, actor, action, target_id or app_id)
        raise NotFound("app")


async def endpoint_for(
    services: Services, actor: Actor, action: Action, endpoint_id: str
) -> WebhookEndpoint:
    """The endpoint, if ``actor`` may do ``action`` on it; else ``NotFound`` (outside the
    tenant or scope) or ``Forbidden`` (the role), audited either way."""
    async with services.db.read() as session:
        row = await session.get(WebhookEndpoint, endpoint_id[:36])
    if row is None or row.tenant_id != actor.tenant_id or not await _in_scope(services, actor, row):
        await _denied(services, actor, action, endpoint_id)
        raise NotFound(TARGET)
    try:
        require(actor.principal, action)
    except Forbidden:
        await _denied(services, actor, action, endpoint_id, pool_id=row.pool_id)
        raise
    return row


def tenant_wide(actor: Actor) -> bool:
    """Neither pools nor a workspace: an app's endpoints (an app spans pools)."""
    return access.tenant_wide(actor.principal)


async def _in_scope(services: Services, actor: Actor, row: WebhookEndpoint) -> bool:
    if row.pool_id is None:
        return tenant_wide(actor)
    if actor.principal.workspace_id is None:
        return sees_pool(actor.principal, row.pool_id)
    try:  # a workspace's principal: the pool must be in that workspace
        pool = await services.pools.get(row.pool_id)
    except PoolNotFound:
        return False
    return sees_pool(actor.principal, row.pool_id, pool.workspace_id)


async def _denied(
    services: Services, actor: Actor, action: str, target_id: str | None, pool_id: str | None = None
) -> None:
    await audit.record_denied(
        services.db,
        actor,
        action,
        target_type=TARGET,
        target_id=(target_id or "")[:64] or None,
        pool_id=pool_id,
        now=services.clock.now(),
    )


async def _locked(session: AsyncSession, actor: Actor, endpoint_id: str) -> WebhookEndpoint:
    """The endpoint again, inside the write (locked on PostgreSQL): it may have gone."""
    row = (
        await session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.tenant_id == actor.tenant_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(TARGET)
    return row


# --- helpers ----------------------------------------------------------------------------


def _checked(services: Services, given: EndpointSettings, problems: Problems) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if given.url is not None:
        for message_id in check_url(given.url, services.settings.webhooks_allow_private):
            problems.add("url", message_id)
        values["url"] = given.url
    if given.description is not None:
        values["description"] = given.description.strip()
    if given.event_types is not None:
        values["event_types"] = _event_types(given.event_types, problems)
    if given.enabled is not None:
        values["enabled"] = given.enabled
    return values


def _event_types(chosen: Collection[str], problems: Problems) -> list[str]:
    for name in chosen:
        if name not in EVENT_TYPES:
            problems.add(
                "event_types",
                "webhook.unknown_event",
                value=str(name)[:50],
                allowed=", ".join(EVENT_TYPES),
            )
    return [name for name in EVENT_TYPES if name in set(chosen)]


async def _check_room(
    session: AsyncSession, pool_id: str | None, app_id: str | None, problems: Problems
) -> None:
    owner = (
        WebhookEndpoint.pool_id == pool_id
        if pool_id is not None
        else WebhookEndpoint.app_id == app_id
    )
    count = await session.scalar(select(func.count()).select_from(WebhookEndpoint).where(owner))
    if (count or 0) >= MAX_PER_OWNER:
        problems.add(
            "pool_id" if pool_id is not None else "app_id", "webhook.too_many", limit=MAX_PER_OWNER
        )


async def _bump(session: AsyncSession, row: WebhookEndpoint) -> list[str]:
    """Bump the version of the pools the endpoint concerns; return their ids."""
    pools = [row.pool_id] if row.pool_id is not None else []
    if row.app_id is not None:
        pools = list(await session.scalar(select(App.pool_ids).where(App.id == row.app_id)) or [])
    if pools:
        await session.execute(
            update(Pool).where(Pool.id.in_(pools)).values(version=Pool.version + 1)
        )
    return pools


def _forget(services: Services, pools: list[str]) -> None:
    for pool_id in pools:
        services.pools.forget(pool_id)


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host[:100]
    except (httpx.InvalidURL, ValueError):
        return ""


def _details(row: WebhookEndpoint, values: dict[str, Any]) -> dict[str, Any]:
    return {"fields": sorted(values), "host": _host(row.url)}


async def record_change(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: WebhookEndpoint,
    now: datetime,
    details: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type=TARGET,
        target_id=row.id,
        pool_id=row.pool_id,
        now=now,
        details=details,
    )


def view(row: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        id=row.id,
        pool_id=row.pool_id,
        app_id=row.app_id,
        url=row.url,
        description=row.description,
        event_types=list(row.event_types or []),
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
        previous_secret_until=row.previous_secret_until,
    )
