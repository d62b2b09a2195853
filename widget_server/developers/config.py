"""Configuration as code: a developer's apps and webhook endpoints as one JSON file, so
they live in the partner's git and move between staging and production.

``export_config`` writes what the caller may see (live apps, and the webhook endpoints of
its pools and apps); secrets never leave. ``plan`` compares a file with what is there,
matching apps by client id and endpoints by (owner, URL): create, update (naming the
fields) or unchanged. ``apply`` carries the plan out through the same services as the
portal and API (``admin.apps``, ``webhooks.manage``: the same checks, scope, audit and
error ids) and returns the secrets of what it created, shown once. Nothing missing from
the file is deleted: a file is a floor, not a mirror. Each item is its own transaction;
an error stops the run, and running the same file again finishes it (it converges: what
was done shows as unchanged).
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

from widget_server.admin.access import Actor
from widget_server.admin.apps import (
    AppDetail,
    AppPatch,
    Kind,
    NewApp,
    app_pool_ids,
    create_app,
    list_apps,
)
from widget_server.admin.apps import update_app as update_app_
from widget_server.errors import InvalidInput
from widget_server.messages import msg
from widget_server.services import Services
from widget_server.webhooks import manage
from widget_server.webhooks.manage import EndpointPatch, EndpointView, NewEndpoint

FORMAT: Final = "widget-server/developer-config"
MAX_APPS = 200
MAX_ENDPOINTS = 400
MAX_BYTES = 1024 * 1024
_APP_FIELDS = ("name", "redirect_uris", "allowed_origins", "pool_ids", "scopes", "theme")
_ENDPOINT_FIELDS = ("description", "event_types", "enabled")


class AppConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    kind: Kind
    pool_ids: list[str]
    redirect_uris: list[str] = msgspec.field(default_factory=list)
    allowed_origins: list[str] = msgspec.field(default_factory=list)
    scopes: list[str] = msgspec.field(default_factory=list)
    theme: dict[str, Any] = msgspec.field(default_factory=dict)


class EndpointConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    url: str
    #: Exactly one of the two: the endpoint's pool, or its app (by client id).
    pool_id: str | None = None
    app_id: str | None = None
    description: str = ""
    #: Empty: every event type.
    event_types: list[str] = msgspec.field(default_factory=list)
    enabled: bool = True

    @property
    def key(self) -> str:
        owner = f"pool:{self.pool_id}" if self.pool_id is not None else f"app:{self.app_id}"
        return f"{owner} {self.url}"


class ConfigFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: Literal["widget-server/developer-config"] = FORMAT
    version: Literal[1] = 1
    apps: list[AppConfig] = msgspec.field(default_factory=list)
    webhook_endpoints: list[EndpointConfig] = msgspec.field(default_factory=list)


class Change(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["app", "webhook_endpoint"]
    #: The client id, or "pool:<id> <url>" / "app:<id> <url>".
    key: str
    action: Literal["create", "update", "unchanged"]
    #: The fields an update changes.
    fields: list[str] = msgspec.field(default_factory=list)


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    changes: list[Change]

    @property
    def pending(self) -> int:
        return sum(1 for c in self.changes if c.action != "unchanged")


class Applied(msgspec.Struct, frozen=True, kw_only=True):
    changes: list[Change]
    #: Client secrets of the confidential apps created, by client id: shown this once.
    client_secrets: dict[str, str]
    #: Signing secrets (``whsec_``) of the endpoints created, by key: shown this once.
    webhook_secrets: dict[str, str]


# --- reading and writing the file ----------------------------------------------------------


def decode(raw: bytes | str) -> ConfigFile:
    """The file, strictly (unknown fields are errors); ``InvalidInput`` on ``file``."""
    if len(raw) > MAX_BYTES:
        raise InvalidInput({"file": [msg("config.too_large", "error", max=MAX_BYTES)]})
    try:
        config = msgspec.json.decode(raw, type=ConfigFile)
    except msgspec.DecodeError as exc:
        raise InvalidInput(
            {"file": [msg("config.invalid", "error", detail=str(exc)[:300])]}
        ) from None
    return checked(config)


def checked(config: ConfigFile) -> ConfigFile:
    """``config`` if its lists are within bounds and name nothing twice."""
    problems: list[str] = []
    if len(config.apps) > MAX_APPS or len(config.webhook_endpoints) > MAX_ENDPOINTS:
        problems.append(f"at most {MAX_APPS} apps and {MAX_ENDPOINTS} endpoints")
    for kind, keys in (
        ("app", [a.id for a in config.apps]),
        ("webhook endpoint", [e.key for e in config.webhook_endpoints]),
    ):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            problems.append(f"{kind} {twice[0]} is listed twice")
    if problems:
        raise InvalidInput({"file": [msg("config.invalid", "error", detail="; ".join(problems))]})
    return config


def encode(config: ConfigFile) -> bytes:
    return msgspec.json.format(msgspec.json.encode(config), indent=2) + b"\n"


async def export_config(
    services: Services, actor: Actor, pool_ids: list[str] | None = None
) -> ConfigFile:
    """The caller's live apps and their pools' and apps' endpoints (``pool_ids``: only
    those of these pools); never a secret."""
    apps = await _apps(services, actor, pool_ids)
    endpoints = await _endpoints(services, actor, apps, pool_ids)
    return ConfigFile(
        apps=[_app_config(a) for a in apps.values()],
        webhook_endpoints=[_endpoint_config(e) for e in endpoints.values()],
    )


# --- plan and apply ----------------------------------------------------------------------


async def plan(services: Services, actor: Actor, config: ConfigFile) -> Plan:
    apps = await _apps(services, actor, None)
    endpoints = await _endpoints(services, actor, apps, None)
    changes = [_app_change(a, apps.get(a.id)) for a in config.apps]
    changes += [_endpoint_change(e, endpoints.get(e.key)) for e in config.webhook_endpoints]
    return Plan(changes=changes)


async def apply(services: Services, actor: Actor, config: ConfigFile) -> Applied:
    planned = await plan(services, actor, config)
    by_key = {(c.kind, c.key): c for c in planned.changes}
    client_secrets: dict[str, str] = {}
    webhook_secrets: dict[str, str] = {}
    for app in config.apps:
        change = by_key[("app", app.id)]
        if change.action == "create":
            created = await create_app(
                services, actor, NewApp(**_app_values(app), id=app.id, kind=app.kind)
            )
            if created.client_secret:
                client_secrets[app.id] = created.client_secret
        elif change.action == "update":
            values = {f: getattr(app, f) for f in change.fields}
            await update_app_(services, actor, app.id, AppPatch(**values))
    endpoints = await _endpoints(services, actor, await _apps(services, actor, None), None)
    for endpoint in config.webhook_endpoints:
        change = by_key[("webhook_endpoint", endpoint.key)]
        if change.action == "create":
            made = await manage.create_endpoint(services, actor, _new_endpoint(endpoint))
            webhook_secrets[endpoint.key] = made.secret
        elif change.action == "update":
            values = {f: getattr(endpoint, f) for f in change.fields}
            current = endpoints[endpoint.key]
            await manage.update_endpoint(services, actor, current.id, EndpointPatch(**values))
    return Applied(
        changes=planned.changes, client_secrets=client_secrets, webhook_secrets=webhook_secrets
    )


# --- helpers ------------------------------------------------------------------------------


async def _apps(
    services: Services, actor: Actor, pool_ids: list[str] | None
) -> dict[str, AppDetail]:
    found = await list_apps(services, actor)
    return {
        a.id: a
        for a in found
        if a.revoked_at is None and (pool_ids is None or set(a.pool_ids) & set(pool_ids))
    }


async def _endpoints(
    services: Services, actor: Actor, apps: dict[str, AppDetail], pool_ids: list[str] | None
) -> dict[str, EndpointView]:
    """Endpoints of the caller's apps and of the pools in its scope (of ``pool_ids``), by
    key."""
    scope = set(await app_pool_ids(services, actor))
    pools = scope & set(pool_ids) if pool_ids is not None else scope
    found = await manage.list_endpoints(services, actor)
    return {
        _endpoint_config(e).key: e
        for e in found
        if (e.app_id in apps if e.app_id is not None else e.pool_id in pools)
    }


def _app_config(app: AppDetail) -> AppConfig:
    return AppConfig(
        id=app.id,
        name=app.name,
        kind=app.kind,  # type: ignore[arg-type]
        pool_ids=sorted(app.pool_ids),
        redirect_uris=sorted(app.redirect_uris),
        allowed_origins=sorted(app.allowed_origins),
        scopes=list(app.scopes),
        theme=dict(app.theme),
    )


def _app_values(app: AppConfig) -> dict[str, Any]:
    return {f: getattr(app, f) for f in _APP_FIELDS}


def _app_change(wanted: AppConfig, current: AppDetail | None) -> Change:
    if current is None:
        return Change(kind="app", key=wanted.id, action="create")
    have = _app_config(current)
    fields = [
        f for f in _APP_FIELDS if _canonical(getattr(wanted, f)) != _canonical(getattr(have, f))
    ]
    if wanted.kind != have.kind:
        raise InvalidInput(
            {"file": [msg("config.kind_changed", "error", app=wanted.id, kind=have.kind)]}
        )
    return Change(
        kind="app", key=wanted.id, action="update" if fields else "unchanged", fields=fields
    )


def _endpoint_config(e: EndpointView) -> EndpointConfig:
    return EndpointConfig(
        url=e.url,
        pool_id=e.pool_id,
        app_id=e.app_id,
        description=e.description,
        event_types=sorted(e.event_types),
        enabled=e.enabled,
    )


def _new_endpoint(e: EndpointConfig) -> NewEndpoint:
    return NewEndpoint(
        url=e.url,
        pool_id=e.pool_id,
        app_id=e.app_id,
        description=e.description,
        event_types=e.event_types,
        enabled=e.enabled,
    )


def _endpoint_change(wanted: EndpointConfig, current: EndpointView | None) -> Change:
    if current is None:
        return Change(kind="webhook_endpoint", key=wanted.key, action="create")
    have = _endpoint_config(current)
    fields = [
        f
        for f in _ENDPOINT_FIELDS
        if _canonical(getattr(wanted, f)) != _canonical(getattr(have, f))
    ]
    action: Literal["update", "unchanged"] = "update" if fields else "unchanged"
    return Change(kind="webhook_endpoint", key=wanted.key, action=action, fields=fields)


def _canonical(value: Any) -> Any:
    # Lists are sets here (origins, URIs, pools, scopes, event types): order is not a change.
    return sorted(value) if isinstance(value, list) else value
