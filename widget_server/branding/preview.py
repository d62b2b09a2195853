"""A theme as it would look, from unsaved tokens, for the studio's live preview.

Nothing is stored and nothing is bumped: the preview resolves the tokens being typed in
the context of one pool (and app), with the theme's own layer replaced by them, so the
designer sees exactly what publishing would show there; pages keep their published
theme until then.
"""

from __future__ import annotations

from typing import Any

import msgspec

from widget_server.admin.access import Actor
from widget_server.branding.access import Place, audits_refusals, check, not_found
from widget_server.branding.catalogue import visible_theme
from widget_server.branding.contrast import ContrastCheck, check_contrast
from widget_server.branding.layers import Layers, LayerSource, TokenOrigin, token_origins
from widget_server.branding.tokens import check_tokens, layer_of, token_field
from widget_server.errors import InvalidInput, PoolNotFound
from widget_server.messages import msg
from widget_server.pools import theme_sources_for
from widget_server.services import Services
from widget_server.themes import Theme, css_variables, load_builtin_themes, resolve_theme


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    theme: Theme
    #: The stylesheet the widget would load (``themes.css_variables``).
    css: str
    contrast: list[ContrastCheck]
    #: Which layer each token comes from, the previewed tokens counted as their theme's.
    origins: list[TokenOrigin]


@audits_refusals
async def preview_theme(
    services: Services,
    actor: Actor,
    theme_id: str,
    tokens: dict[str, Any] | None = None,
    *,
    pool_id: str | None = None,
    app_id: str | None = None,
) -> Preview:
    """``tokens`` (the saved draft when None) as the theme's layer, over the layers of
    ``pool_id`` (and ``app_id``) when given, else over the built-in default alone.
    ``InvalidInput`` names the token that is wrong, as a save would."""
    builtin = load_builtin_themes().get(theme_id)
    if builtin is not None:
        await check(services, actor, "themes.read", Place(), target_id=theme_id)
        draft = tokens if tokens is not None else layer_of(builtin)
        source = LayerSource(level="tenant", theme_id=theme_id, theme_name=builtin.name)
    else:
        async with services.db.read() as session:
            record = await visible_theme(services, session, actor, "themes.read", theme_id)
        draft = tokens if tokens is not None else dict(record.draft)
        source = LayerSource(level="pool", theme_id=record.id, theme_name=record.name)
    check_tokens(draft)
    layers = await _context(services, actor, pool_id, app_id)
    layers = _with_draft(layers, source, draft)
    try:
        # Each layer is valid alone; together they still might not be (a copy override
        # of one layer is checked again with the others).
        theme = resolve_theme(*layers.tokens)
    except ValueError as exc:
        detail = msg("brand.invalid_token", detail=str(exc)[:300])
        raise InvalidInput({token_field(exc): [detail]}) from None
    origins = token_origins(layers)
    return Preview(
        theme=theme, css=css_variables(theme), contrast=check_contrast(theme), origins=origins
    )


async def _context(
    services: Services, actor: Actor, pool_id: str | None, app_id: str | None
) -> Layers:
    if pool_id is None:
        return Layers()
    try:
        pool = await services.pools.get(pool_id)
    except PoolNotFound:
        pool = None
    if pool is None or pool.tenant_id != actor.tenant_id:
        not_found(actor, "themes.read", target_type="pool", target_id=pool_id)
    await check(
        services,
        actor,
        "themes.read",
        Place(workspace_id=pool.workspace_id, pool_id=pool.id),
        target_type="pool",
        target_id=pool.id,
    )
    return theme_sources_for(pool, app_id)


def _with_draft(layers: Layers, source: LayerSource, draft: dict[str, Any]) -> Layers:
    """The theme's published layer swapped for the draft wherever it is used; appended as
    the most specific layer where it is not (yet) assigned."""
    if source.theme_id in {s.theme_id for s in layers.sources}:
        tokens = tuple(
            draft if s.theme_id == source.theme_id else t
            for s, t in zip(layers.sources, layers.tokens, strict=True)
        )
        return Layers(tokens=tokens, sources=layers.sources)
    return layers + Layers(tokens=(draft,), sources=(source,))
