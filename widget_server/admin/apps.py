"""Apps (OAuth 2.0 / OpenID Connect clients), as the platform operator manages them:
register, read, change, rotate the secret, revoke. Tenant admins only: an app spans pools.

A confidential app gets a client secret, shown once (only its keyed hash is stored); a
public app (browser-only, no secret) must use PKCE on every authorization. Redirect URIs
are stored in their one canonical spelling and later matched exactly
(``oidc.redirects``); origins are checked exactly like pool origins (they end up in
``frame-ancestors`` and as ``postMessage`` targets). Every change is audited in its own
transaction.

An app's theme is a layer of the pages of the pools it signs in to, and its embed
origins may frame those pools' widgets; both travel in the pools' snapshots
(``PoolView.app_theme_layers``, ``PoolView.app_origins``): a change of its theme, origins
or pools, or its revocation, bumps those pools' versions (``branding/reach.py``).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin import audit
from widget_server.admin.access import Action, Actor, pool_scope
from widget_server.admin.audit import record_denied
from widget_server.admin.guard import guard
from widget_server.admin.validation import Problems
from widget_server.branding import reach
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.flows import after_registration
from widget_server.flows.after_registration import AfterRegistration
from widget_server.models import App, Pool
from widget_server.oidc.clients import client_secret_hash
from widget_server.oidc.redirects import valid_redirect_uri
from widget_server.oidc.scopes import SCOPES
from widget_server.services import Services
from widget_server.upsert import insert_ignoring_conflict

APP_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
#: What a pool id looks like (``admin/pools.py``: POOL_ID).
POOL_ID = APP_ID
MAX_ORIGINS = 32
MAX_REDIRECT_URIS = 32
MAX_POOLS = 64
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Kind = Literal["confidential", "public"]


class AppDetail(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    kind: str
    #: Whether a client secret is set (the secret itself is never shown again).
    has_secret: bool
    allowed_origins: list[str]
    redirect_uris: list[str]
    pool_ids: list[str]
    scopes: list[str]
    theme: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    revoked_at: datetime | None
    #: The workspace the app is grouped under (``branding/workspaces.py``), if any.
    workspace_id: str | None = None
    #: Until when the secret replaced by the last rotation still works (its grace period).
    previous_secret_until: datetime | None = None
    #: What a registration through the app offers when done (overrides the pool's).
    after_registration: AfterRegistration | None = None


class CreatedApp(msgspec.Struct, frozen=True, kw_only=True):
    app: AppDetail
    #: The client secret of a confidential app: shown this once, store it now.
    client_secret: str | None


class AppSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an operator may set on an app; ``None`` leaves a value as it is."""

    name: _Name | None = None
    allowed_origins: list[str] | None = None
    redirect_uris: list[str] | None = None
    pool_ids: list[str] | None = None
    #: Scopes the app may ask for beyond ``openid`` (always allowed).
    scopes: list[str] | None = None
    theme: dict[str, Any] | None = None
    #: What "You're all set" offers for a registration through this app (overrides the
    #: pool's): ``continue_url`` on one of its origins, or one of its redirect URIs.
    after_registration: AfterRegistration | None = None


class NewApp(AppSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name
    kind: Kind
    pool_ids: list[str]
    #: The client id; generated when absent.
    id: Annotated[str, msgspec.Meta(min_length=2, max_length=63)] | None = None


class AppPatch(AppSettings, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


#: How long a replaced secret may keep working, as the portals offer it: none, an hour, a
#: day, a week. Longer would let a leaked secret live on; the API takes the same values.
GRACE_CHOICES: tuple[int, ...] = (0, 3600, 86400, 7 * 86400)


class SecretRotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rotation's one option: how many seconds the old secret keeps working."""

    grace_seconds: int = 0


async def list_apps(services: Services, actor: Actor) -> list[AppDetail]:
    await guard(services, actor, "apps.read", target_type="app")
    async with services.db.read() as session:
        scope = await pools_in_scope(session, actor)
        rows = await session.execute(
            select(App).where(App.tenant_id == actor.tenant_id).order_by(App.name, App.id)
        )
        return [_detail(app) for app in rows.scalars() if _within(app, scope)]


async def get_app(services: Services, actor: Actor, app_id: str) -> AppDetail:
    await _guard_app(services, actor, "apps.read", app_id)
    async with services.db.read() as session:
        return _detail(await _owned(session, actor, app_id))


async def pools_in_scope(session: AsyncSession, actor: Actor) -> frozenset[str] | None:
    """The pools a principal scoped to pools or a workspace (a developer) may register
    apps for; None: the whole tenant."""
    principal = actor.principal
    pools = pool_scope(principal)
    if pools is not None:
        return pools
    if principal.workspace_id is None:
        return None
    ids = await session.execute(
        select(Pool.id).where(
            Pool.tenant_id == actor.tenant_id, Pool.workspace_id == principal.workspace_id
        )
    )
    return frozenset(ids.scalars())


async def app_pool_ids(services: Services, actor: Actor) -> list[str]:
    """The pools the actor may register apps for, by name: its scope, or the tenant's."""
    await guard(services, actor, "apps.read", target_type="app")
    async with services.db.read() as session:
        scope = await pools_in_scope(session, actor)
        query = select(Pool.id).where(Pool.tenant_id == actor.tenant_id).order_by(Pool.name)
        if scope is not None:
            query = query.where(Pool.id.in_(scope))
        return list((await session.execute(query)).scalars())


def _within(app: App, scope: frozenset[str] | None) -> bool:
    """An app is in a scoped principal's reach only if every pool it signs in to is."""
    return scope is None or (bool(app.pool_ids) and set(app.pool_ids) <= scope)


async def _guard_app(services: Services, actor: Actor, action: Action, app_id: str) -> None:
    """``guard``, then the app's pools against the principal's scope: an app outside it is
    a 404 like a missing one, and the attempt is in the audit log."""
    await guard(services, actor, action, target_type="app", target_id=app_id)
    async with services.db.read() as session:
        scope = await pools_in_scope(session, actor)
        app = await session.get(App, app_id[:64]) if scope is not None else None
    if scope is None or app is None or _within(app, scope):
        return  # a missing app is _owned's NotFound, for every caller alike
    await record_denied(
        services.db,
        actor,
        action,
        target_type="app",
        target_id=app_id,
        pool_id=None,
        now=services.clock.now(),
    )
    raise NotFound("app")


async def create_app(services: Services, actor: Actor, new: NewApp) -> CreatedApp:
    app_id = new.id or f"app-{secrets.token_hex(8)}"
    await guard(services, actor, "apps.write", target_type="app", target_id=app_id)
    problems = Problems()
    if not APP_ID.fullmatch(app_id):
        problems.add("id", "admin.invalid_pool_id")
    now = services.clock.now()
    secret = secrets.token_urlsafe(32) if new.kind == "confidential" else None
    async with services.db.write() as session:
        values = await _checked(session, actor, new, problems)
        origins, uris = values.get("allowed_origins", []), values.get("redirect_uris", [])
        _check_after(values, origins, uris, problems)
        problems.raise_if_any()
        row = {
            "id": app_id,
            "tenant_id": actor.tenant_id,
            "kind": new.kind,
            "secret_hash": secret
            and client_secret_hash(services.settings.secret_key, app_id, secret),
            "allowed_origins": [],
            "redirect_uris": [],
            "scopes": [],
            "theme": {},
            "created_at": now,
            "updated_at": now,
            "revoked_at": None,
        } | values
        if not await insert_ignoring_conflict(session, App, row, ("id",)):
            raise InvalidInput({"id": [problems.message("admin.id_taken")]})
        await _audit(session, actor, "app.create", app_id, now, {"fields": sorted(values)})
        app = await _owned(session, actor, app_id)
        # Its theme and its embed origins reach its pools' snapshots (``pools.PoolView``).
        shown = app.theme or app.allowed_origins
        pools = await reach.bump(session, app.pool_ids if shown else (), now)
    reach.forget(services, pools)
    return CreatedApp(app=_detail(app), client_secret=secret)


async def update_app(services: Services, actor: Actor, app_id: str, patch: AppPatch) -> AppDetail:
    await _guard_app(services, actor, "apps.write", app_id)
    problems = Problems()
    now = services.clock.now()
    async with services.db.write() as session:
        app = await _owned(session, actor, app_id)
        if app.revoked_at is not None:
            raise Conflict("app.revoked")
        values = await _checked(session, actor, patch, problems)
        origins = values.get("allowed_origins", app.allowed_origins)
        _check_after(values, origins, values.get("redirect_uris", app.redirect_uris), problems)
        problems.raise_if_any()
        before = set(app.pool_ids)
        if values:
            await session.execute(
                update(App).where(App.id == app_id).values(**values, updated_at=now)
            )
        await _audit(session, actor, "app.update", app_id, now, {"fields": sorted(values)})
        await session.refresh(app)
        changed = bool({"theme", "pool_ids", "allowed_origins"} & set(values))
        pools = await reach.bump(session, before | set(app.pool_ids) if changed else (), now)
    reach.forget(services, pools)
    return _detail(app)


async def rotate_secret(
    services: Services, actor: Actor, app_id: str, rotation: SecretRotation | None = None
) -> CreatedApp:
    """A new client secret (shown once). The old one keeps working at the token endpoint
    for ``rotation.grace_seconds`` (one of ``GRACE_CHOICES``; none by default), so a
    backend can be redeployed with the new one without a failed sign-in. Only one old
    secret is kept: rotating again during a grace period ends the older one's."""
    grace = (rotation or SecretRotation()).grace_seconds
    if grace not in GRACE_CHOICES:
        choices = ", ".join(str(c) for c in GRACE_CHOICES)
        raise InvalidInput(
            {"grace_seconds": [Problems.message("app.grace_invalid", allowed=choices)]}
        )
    await _guard_app(services, actor, "apps.write", app_id)
    now = services.clock.now()
    secret = secrets.token_urlsafe(32)
    async with services.db.write() as session:
        app = await _owned(session, actor, app_id)
        if app.revoked_at is not None:
            raise Conflict("app.revoked")
        if app.kind != "confidential":
            raise Conflict("app.public_no_secret")
        keep = grace > 0 and app.secret_hash is not None
        await session.execute(
            update(App)
            .where(App.id == app_id)
            .values(
                secret_hash=client_secret_hash(services.settings.secret_key, app_id, secret),
                previous_secret_hash=app.secret_hash if keep else None,
                previous_secret_until=now + timedelta(seconds=grace) if keep else None,
                updated_at=now,
            )
        )
        await _audit(session, actor, "app.rotate_secret", app_id, now, {"grace_seconds": grace})
        await session.refresh(app)
    return CreatedApp(app=_detail(app), client_secret=secret)


async def revoke_app(services: Services, actor: Actor, app_id: str) -> AppDetail:
    """Stop the app for good: no new authorizations, codes or token exchanges."""
    await _guard_app(services, actor, "apps.write", app_id)
    now = services.clock.now()
    async with services.db.write() as session:
        app = await _owned(session, actor, app_id)
        pools: list[str] = []
        if app.revoked_at is None:
            await session.execute(
                update(App).where(App.id == app_id).values(revoked_at=now, updated_at=now)
            )
            await _audit(session, actor, "app.revoke", app_id, now, {})
            await session.refresh(app)
            # Its theme layer leaves its pools' pages.
            pools = await reach.bump(session, app.pool_ids, now)
    reach.forget(services, pools)
    return _detail(app)


# --- helpers ---------------------------------------------------------------------------


async def _owned(session: AsyncSession, actor: Actor, app_id: str) -> App:
    app = await session.get(App, app_id[:64])
    if app is None or app.tenant_id != actor.tenant_id:
        raise NotFound("app")
    return app


async def _checked(
    session: AsyncSession, actor: Actor, given: AppSettings, problems: Problems
) -> dict[str, Any]:
    """The given settings as column values, each checked; problems are collected."""
    values: dict[str, Any] = {}
    if given.name is not None:
        values["name"] = given.name.strip() or problems.add("name", "form.required")
    if given.allowed_origins is not None:
        values["allowed_origins"] = problems.check_origins(
            "allowed_origins", given.allowed_origins, MAX_ORIGINS
        )
    if given.redirect_uris is not None:
        values["redirect_uris"] = _check_redirect_uris(given.redirect_uris, problems)
    if given.pool_ids is not None:
        values["pool_ids"] = await _check_pools(session, actor, given.pool_ids, problems)
    if given.scopes is not None:
        values["scopes"] = _check_scopes(given.scopes, problems)
    if given.after_registration is not None:
        values["after_registration"] = after_registration.stored(given.after_registration)
    if given.theme is not None:
        problems.check_theme("theme", given.theme)
        values["theme"] = given.theme
    return values


def _check_after(
    values: dict[str, Any], origins: list[str], redirect_uris: list[str], problems: Problems
) -> None:
    if "after_registration" not in values:
        return
    setting = after_registration.from_column(values["after_registration"])
    problem = setting and after_registration.check(setting, origins, redirect_uris)
    if problem:
        problems.add("after_registration.continue_url", problem)


def _check_redirect_uris(uris: list[str], problems: Problems) -> list[str]:
    if len(uris) > MAX_REDIRECT_URIS:
        problems.add("redirect_uris", "admin.too_many", limit=MAX_REDIRECT_URIS)
    for uri in uris:
        if not valid_redirect_uri(uri):
            problems.add("redirect_uris", "app.redirect_uri_invalid", value=str(uri)[:100])
    return sorted(set(uris))


async def _check_pools(
    session: AsyncSession, actor: Actor, pool_ids: list[str], problems: Problems
) -> list[str]:
    if not pool_ids:
        problems.add("pool_ids", "app.needs_pool")
        return []
    if len(pool_ids) > MAX_POOLS:
        problems.add("pool_ids", "admin.too_many", limit=MAX_POOLS)
        return []
    wanted = {p[:64] for p in pool_ids}
    # Only well-formed ids are looked up: the others name no pool, and PostgreSQL refuses
    # a NUL in a text parameter outright (a 500 instead of "unknown pool").
    queried = {p for p in wanted if POOL_ID.fullmatch(p)}
    found = set(
        (
            await session.execute(
                select(Pool.id).where(Pool.id.in_(queried), Pool.tenant_id == actor.tenant_id)
            )
        ).scalars()
    )
    scope = await pools_in_scope(session, actor)
    if scope is not None:
        found &= scope
    for pool_id in sorted(wanted - found):
        # Another tenant's pool, or one outside the caller's scope, reads exactly like a
        # missing one.
        problems.add("pool_ids", "app.pool_unknown", value=pool_id)
    return sorted(wanted)


def _check_scopes(scopes: list[str], problems: Problems) -> list[str]:
    for scope in scopes:
        if scope not in SCOPES:
            problems.add(
                "scopes", "app.scope_unknown", value=str(scope)[:50], allowed=" ".join(SCOPES)
            )
    return [s for s in SCOPES if s in set(scopes) and s != "openid"]


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    app_id: str,
    now: datetime,
    details: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type="app",
        target_id=app_id,
        pool_id=None,
        now=now,
        details=details,
    )


def _detail(app: App) -> AppDetail:
    return AppDetail(
        id=app.id,
        name=app.name,
        kind=app.kind,
        has_secret=app.secret_hash is not None,
        allowed_origins=list(app.allowed_origins),
        redirect_uris=list(app.redirect_uris),
        pool_ids=list(app.pool_ids),
        scopes=list(app.scopes),
        theme=dict(app.theme),
        workspace_id=app.workspace_id,
        after_registration=after_registration.from_column(app.after_registration),
        created_at=app.created_at,
        updated_at=app.updated_at,
        revoked_at=app.revoked_at,
        previous_secret_until=app.previous_secret_until,
    )
