"""The theme layers of a pool (and of the apps that sign in to it), as ``PoolView`` carries
them, and which layer each resolved token comes from.

A level's layer is the published version of the theme assigned to it, then the level's
own inline tokens (``tenants.theme``, ``pools.theme``, ``apps.theme``: what the admin API
could set before themes were objects), most specific last::

    built-in default -> tenant -> workspace -> pool -> app

They are read when the pool is (``PoolDirectory``), so a page costs nothing more per
request: publishing or assigning a theme bumps the version of every pool it reaches
(``branding/reach.py``) and caches keyed by (pool, version) refresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.models import App, Pool, Tenant, ThemeAssignment, ThemeRecord, ThemeVersion
from widget_server.themes import (
    DARK_THEME_ID,
    DEFAULT_THEME_ID,
    Theme,
    load_builtin_themes,
    resolve_theme,
)

Level = Literal["tenant", "workspace", "pool", "app"]
LEVELS: tuple[Level, ...] = ("tenant", "workspace", "pool", "app")


class LayerSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where one layer's tokens come from: a published theme, or a level's inline tokens."""

    level: Level
    #: None: the level's inline ``theme`` tokens.
    theme_id: str | None = None
    theme_name: str | None = None
    version: int | None = None


class Layers(msgspec.Struct, frozen=True, kw_only=True):
    tokens: tuple[dict[str, Any], ...] = ()
    sources: tuple[LayerSource, ...] = ()

    def __add__(self, other: Layers) -> Layers:
        return Layers(tokens=self.tokens + other.tokens, sources=self.sources + other.sources)


class PoolLayers(msgspec.Struct, frozen=True, kw_only=True):
    pool: Layers
    #: Per app that signs in to the pool and adds a layer of its own.
    apps: dict[str, Layers]


class _Assigned(msgspec.Struct, frozen=True):
    theme_id: str
    name: str
    version: int
    tokens: dict[str, Any]


async def load_pool_layers(session: AsyncSession, pool: Pool, tenant: Tenant) -> PoolLayers:
    apps = [
        (app_id, theme)
        for app_id, theme, pool_ids in (
            await session.execute(
                select(App.id, App.theme, App.pool_ids).where(
                    App.tenant_id == pool.tenant_id, App.revoked_at.is_(None)
                )
            )
        ).all()
        if pool.id in (pool_ids or ())
    ]
    targets: list[tuple[Level, str]] = [("tenant", tenant.id), ("pool", pool.id)]
    if pool.workspace_id is not None:
        targets.append(("workspace", pool.workspace_id))
    targets += [("app", app_id) for app_id, _theme in apps]
    assigned = await _assigned(session, targets)

    def level(name: Level, target: str, inline: Mapping[str, Any] | None) -> Layers:
        tokens: list[dict[str, Any]] = []
        sources: list[LayerSource] = []
        found = assigned.get((name, target))
        if found is not None:
            tokens.append(found.tokens)
            sources.append(
                LayerSource(
                    level=name,
                    theme_id=found.theme_id,
                    theme_name=found.name,
                    version=found.version,
                )
            )
        if inline:
            tokens.append(dict(inline))
            sources.append(LayerSource(level=name))
        return Layers(tokens=tuple(tokens), sources=tuple(sources))

    layers = level("tenant", tenant.id, tenant.theme)
    if pool.workspace_id is not None:
        layers += level("workspace", pool.workspace_id, None)
    layers += level("pool", pool.id, pool.theme)
    by_app = {app_id: level("app", app_id, theme) for app_id, theme in apps}
    return PoolLayers(pool=layers, apps={a: lay for a, lay in by_app.items() if lay.tokens})


async def _assigned(
    session: AsyncSession, targets: Sequence[tuple[Level, str]]
) -> dict[tuple[str, str], _Assigned]:
    """The published tokens of the themes assigned to ``targets``, by (level, target)."""
    query = (
        select(
            ThemeAssignment.level,
            ThemeAssignment.target_id,
            ThemeRecord.id,
            ThemeRecord.name,
            ThemeVersion.number,
            ThemeVersion.tokens,
        )
        .join(ThemeRecord, ThemeRecord.id == ThemeAssignment.theme_id)
        .join(
            ThemeVersion,
            and_(
                ThemeVersion.theme_id == ThemeRecord.id,
                ThemeVersion.number == ThemeRecord.published_version,
            ),
        )
        .where(
            or_(
                *(
                    and_(ThemeAssignment.level == name, ThemeAssignment.target_id == target)
                    for name, target in targets
                )
            )
        )
    )
    return {
        (name, target): _Assigned(theme_id, theme_name, number, tokens)
        for name, target, theme_id, theme_name, number, tokens in (await session.execute(query))
    }


# --- provenance ----------------------------------------------------------------------


class TokenOrigin(msgspec.Struct, frozen=True, kw_only=True):
    """One resolved token and the layer that set it."""

    #: Dotted path: ``colors.primary``, ``dark.colors.text``, ``copy.ui.back``.
    token: str
    value: str | None
    #: ``builtin`` when no layer sets it (the default theme, or the built-in dark palette
    #: completing a partial one).
    level: Literal["builtin", "tenant", "workspace", "pool", "app"]
    theme_id: str | None
    theme_name: str | None
    version: int | None


def flatten(tokens: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"colors": {"primary": "#000"}}`` -> ``{"colors.primary": "#000"}``. Copy keys are
    message ids with dots of their own, so ``copy`` is flattened one level only."""
    flat: dict[str, Any] = {}
    for key, value in tokens.items():
        path = f"{prefix}{key}"
        if path == "copy" and isinstance(value, Mapping):
            flat |= {f"copy.{message_id}": text for message_id, text in value.items()}
        elif isinstance(value, Mapping):
            flat |= flatten(value, f"{path}.")
        else:
            flat[path] = value
    return flat


def token_origins(layers: Layers) -> list[TokenOrigin]:
    """Every token of the resolved theme, with the most specific layer that set it."""
    theme: Theme = resolve_theme(*layers.tokens)
    resolved = flatten(msgspec.to_builtins(theme))
    # Most specific first: the first layer that names a token set it.
    specific = list(
        zip(reversed(layers.sources), map(flatten, reversed(layers.tokens)), strict=True)
    )
    origins = []
    for token, value in resolved.items():
        if token in ("id", "name"):
            continue
        source = next((source for source, flat in specific if token in flat), None)
        origins.append(_origin(token, value, source))
    return origins


def _origin(token: str, value: Any, source: LayerSource | None) -> TokenOrigin:
    text = None if value is None else str(value)
    if source is not None:
        return TokenOrigin(
            token=token,
            value=text,
            level=source.level,
            theme_id=source.theme_id,
            theme_name=source.theme_name,
            version=source.version,
        )
    # Unset by every layer: the default theme, or the dark palette that completes one.
    builtin = load_builtin_themes()[
        DARK_THEME_ID if token.startswith("dark.") else DEFAULT_THEME_ID
    ]
    return TokenOrigin(
        token=token,
        value=text,
        level="builtin",
        theme_id=builtin.id,
        theme_name=builtin.name,
        version=None,
    )
