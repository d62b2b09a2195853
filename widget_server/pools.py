"""A pool as the flows see it: one immutable snapshot of its configuration.

Loaded from the database and cached for ``CACHE_SECONDS`` (dropped at once, in every
process, when an administrator changes the pool: ``forget``), so a burst of registrations
does not read the pool, schema and tenant rows for each request. One load per pool runs at
a time: the requests that find the cache expired while it runs wait for it rather than
start their own (each load builds the schema validator and the password policy, ~2 ms of
event-loop CPU, and under a burst dozens of requests would otherwise arrive in that
window).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from widget_server.branding.layers import Layers, load_pool_layers
from widget_server.changes import ChangeFeed, LocalFeed
from widget_server.db import Database
from widget_server.errors import PoolNotFound
from widget_server.forms import KeyedSchema, identifier_field
from widget_server.forms.schema import is_phone, properties
from widget_server.models import App, IdentitySchema, Pool, Tenant
from widget_server.oidc.mapping import inferred_mapping
from widget_server.passwords.floor import floor_from_config, with_floor
from widget_server.passwords.policy import IdentifierLabel, PasswordPolicy, policy_from_config
from widget_server.webhooks.subscriptions import subscribed_events

#: How long a snapshot serves without a look at the database. Changes made through another
#: process arrive sooner, told by ``changes.py``; this is the backstop should that fail.
CACHE_SECONDS = 5.0
TOPIC = "pool:"


class PoolView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    name: str
    version: int
    schema: dict[str, Any]
    policy: PasswordPolicy
    activation_methods: tuple[str, ...]
    self_registration: bool
    allowed_origins: tuple[str, ...]
    #: Token layers, least specific first (tenant, workspace, pool); resolved over the
    #: built-in default. ``theme_layers_for`` adds an app's.
    theme_layers: tuple[dict[str, Any], ...]
    #: JSON Schema of what admins set on users (roles, groups); None: free-form object.
    metadata_schema: dict[str, Any] | None = None
    #: Lower-case domains an email identifier must belong to; empty allows any.
    email_domains: tuple[str, ...] = ()
    #: Sessions (auth/sessions.py): absolute lifetime, and how long one may sit unused.
    session_lifetime_seconds: int = 86400
    session_idle_seconds: int = 3600
    #: Second factor: "off", "optional" or "required".
    mfa: str = "off"
    #: ISO 3166 regions phone identifiers may come from; empty allows any.
    phone_regions: tuple[str, ...] = ()
    workspace_id: str | None = None
    #: Where each of ``theme_layers`` comes from (``branding.layers.LayerSource``).
    theme_sources: Layers = msgspec.field(default_factory=Layers)
    #: The layers of the apps that sign in to this pool and have a theme of their own.
    app_theme_layers: dict[str, Layers] = msgspec.field(default_factory=dict)
    #: What the tenant lets this pool's own administrators do.
    admins_may_brand: bool = False
    admins_may_set_policy: bool = False
    #: Event types some webhook endpoint of this pool wants (``webhooks.subscriptions``);
    #: empty, the common case, means the flows write no event at all.
    webhook_events: frozenset[str] = frozenset()
    #: The embed origins of the apps (not revoked) that accept this pool: a developer
    #: allows its site on its app, and the pool's widgets may be framed there too.
    app_origins: tuple[str, ...] = ()
    #: Standard claim -> ``payload.<field>`` / ``metadata.<field>`` (``oidc/mapping.py``):
    #: the stored mapping, or the one read from the schema when none is stored.
    claim_mapping: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def frame_origins(self) -> tuple[str, ...]:
        """Every origin that may frame this pool's widgets (``frame-ancestors``), each once
        (an app often allows the pool's own site too)."""
        if not self.app_origins:
            return self.allowed_origins
        return tuple(dict.fromkeys(self.allowed_origins + self.app_origins))

    def allows_origin(self, origin: str | None) -> bool:
        return origin is not None and (origin in self.allowed_origins or origin in self.app_origins)


class PoolDirectory:
    def __init__(self, db: Database, feed: ChangeFeed | None = None) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, PoolView]] = {}
        self._loading: dict[str, asyncio.Future[PoolView]] = {}
        #: Bumped by ``forget``: a load that began before it must not fill the cache.
        self._changes: dict[str, int] = {}
        self._feed = feed or LocalFeed()
        self._feed.subscribe(self._changed)

    async def get(self, pool_id: str) -> PoolView:
        cached = self._cache.get(pool_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        loading = self._loading.get(pool_id)
        if loading is None:
            # The count of changes is taken now, not when the load starts to run.
            load = self._refresh(pool_id, self._changes.get(pool_id))
            loading = self._loading[pool_id] = asyncio.ensure_future(load)
            # Retrieved even when every waiter was cancelled, so it is never logged as lost.
            loading.add_done_callback(lambda f: f.cancelled() or f.exception())
        # A cancelled waiter leaves the load running for the others.
        return await asyncio.shield(loading)

    def peek(self, pool_id: str) -> PoolView | None:
        """The snapshot this process holds of ``pool_id`` (fresh or not), without loading:
        for code that cannot await, such as an exception handler drawing a pool's page."""
        cached = self._cache.get(pool_id)
        return cached[1] if cached is not None else None

    def forget(self, pool_id: str) -> None:
        """Drop ``pool_id``'s snapshot here and in every other process (``changes.py``):
        called after a change to the pool, its schema or its theme has committed."""
        self._drop(pool_id)
        self._feed.publish(TOPIC + pool_id)

    def _changed(self, topic: str | None) -> None:
        """Another process changed a pool (or, with None, anything may have changed)."""
        if topic is None:
            for pool_id in set(self._cache) | set(self._loading):
                self._drop(pool_id)
        elif topic.startswith(TOPIC):
            self._drop(topic[len(TOPIC) :])

    def _drop(self, pool_id: str) -> None:
        self._changes[pool_id] = self._changes.get(pool_id, 0) + 1
        self._cache.pop(pool_id, None)
        self._loading.pop(pool_id, None)

    async def _refresh(self, pool_id: str, changes: int | None) -> PoolView:
        try:
            view = await self._load(pool_id)
        finally:
            if self._changes.get(pool_id) == changes:
                self._loading.pop(pool_id, None)
        if self._changes.get(pool_id) == changes:
            self._cache[pool_id] = (time.monotonic() + CACHE_SECONDS, view)
        return view

    async def _load(self, pool_id: str) -> PoolView:
        if len(pool_id) > 64:
            raise PoolNotFound()
        metadata = aliased(IdentitySchema)
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(Pool, IdentitySchema.body, Tenant, metadata.body)
                    .join(IdentitySchema, IdentitySchema.id == Pool.payload_schema_id)
                    .join(Tenant, Tenant.id == Pool.tenant_id)
                    .outerjoin(metadata, metadata.id == Pool.metadata_schema_id)
                    .where(Pool.id == pool_id)
                )
            ).first()
            if row is None:
                raise PoolNotFound()
            pool, schema, tenant, metadata_schema = row
            layers = await load_pool_layers(session, pool, tenant)
            webhook_events = await subscribed_events(session, pool.tenant_id, pool.id)
            app_origins = await _app_origins(session, pool.tenant_id, pool.id)
        # The tenant's floor holds even for a policy set before the floor was raised.
        policy = with_floor(pool.password_policy, floor_from_config(tenant.password_floor))
        return PoolView(
            id=pool.id,
            tenant_id=pool.tenant_id,
            name=pool.name,
            version=pool.version,
            schema=KeyedSchema(schema),
            # The similarity rule's help names what this pool's users sign in with.
            policy=policy_from_config(policy, identifier=_identifier_label(schema)),
            activation_methods=tuple(pool.activation_methods),
            self_registration=pool.self_registration,
            allowed_origins=tuple(pool.allowed_origins),
            theme_layers=layers.pool.tokens,
            theme_sources=layers.pool,
            app_theme_layers=layers.apps,
            workspace_id=pool.workspace_id,
            admins_may_brand=pool.admins_may_brand,
            admins_may_set_policy=pool.admins_may_set_policy,
            metadata_schema=KeyedSchema(metadata_schema) if metadata_schema is not None else None,
            email_domains=tuple(d.lower() for d in pool.email_domains or ()),
            session_lifetime_seconds=pool.session_lifetime_seconds,
            session_idle_seconds=pool.session_idle_seconds,
            mfa=pool.mfa,
            phone_regions=tuple(r.upper() for r in pool.phone_regions or ()),
            webhook_events=webhook_events,
            app_origins=app_origins,
            claim_mapping=(
                pool.claim_mapping
                if pool.claim_mapping is not None
                else inferred_mapping(schema)
            ),
        )


async def _app_origins(session: AsyncSession, tenant_id: str, pool_id: str) -> tuple[str, ...]:
    """Origins of the tenant's live apps that accept ``pool_id``, sorted, without doubles.
    ``admin.apps`` drops the pools' snapshots when an app's origins, pools or state change."""
    rows = await session.execute(
        select(App.pool_ids, App.allowed_origins).where(
            App.tenant_id == tenant_id, App.revoked_at.is_(None)
        )
    )
    found = {o for pools, origins in rows if pool_id in (pools or ()) for o in origins or ()}
    return tuple(sorted(found))


def theme_layers_for(pool: PoolView, app_id: str | None = None) -> tuple[dict[str, Any], ...]:
    """The token layers of a page of ``pool`` shown for ``app_id`` (an embedded login's
    ``client_id``, or a flow's app): the pool's, then the app's own when it has one.

    Cache what is resolved from them by ``(pool.id, pool.version, app_id)``: an app's
    theme changing bumps the version of every pool the app signs in to.
    """
    if app_id is None:
        return pool.theme_layers
    app = pool.app_theme_layers.get(app_id)
    return pool.theme_layers if app is None else pool.theme_layers + app.tokens


def theme_sources_for(pool: PoolView, app_id: str | None = None) -> Layers:
    """``theme_layers_for`` with where each layer comes from."""
    app = pool.app_theme_layers.get(app_id) if app_id is not None else None
    return pool.theme_sources if app is None else pool.theme_sources + app


def _identifier_label(schema: dict[str, Any]) -> IdentifierLabel:
    prop = properties(schema).get(identifier_field(schema), {})
    return "phone number" if is_phone(prop) else "email address"
