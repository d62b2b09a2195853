"""``/embed/{pool}/frame-check``: may this origin embed this pool's widget?

``embed.js`` asks while the iframe loads, so a page whose origin is not allowed gets a
reason at once (instead of the browser's grey "refused to connect" box) and the few
theme tokens it needs to draw a fallback in the pool's colours. It answers any origin
(``Access-Control-Allow-Origin: *``): what it says is in the widget page's own
``frame-ancestors`` header already. With ``client_id`` (an app's login) the app's
origins decide, as they do for the login page's ``frame-ancestors``. Refusals go to the
embed log (``developers/embed_log.py``: pool, origin, count, first and last seen) that
the developer portal shows, for the developer who wonders why their page shows the
fallback.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter

from widget_server.developers.embed_log import EmbedLog
from widget_server.errors import PoolNotFound
from widget_server.oidc.clients import load_client
from widget_server.web.shared.context import web_context
from widget_server.web.shared.params import MAX_POOL_ID, OriginParam
from widget_server.web.shared.security import normalise_origin

log = logging.getLogger(__name__)


class FallbackTheme(msgspec.Struct, frozen=True, kw_only=True):
    primary: str
    primary_contrast: str
    surface: str
    text: str
    border: str
    radius: str
    font_family: str


class FrameCheck(msgspec.Struct, frozen=True, kw_only=True):
    v: int = 1
    allowed: bool
    #: null, ``origin_not_allowed``, ``origin_missing`` or ``unknown_pool``.
    reason: str | None
    origin: str | None
    pool_name: str | None = None
    theme: FallbackTheme | None = None


@get("/embed/{pool_id:str}/frame-check")
async def frame_check(
    request: Request[Any, Any, Any],
    pool_id: Annotated[str, PathParameter(max_length=MAX_POOL_ID)],
    parent_origin: OriginParam = None,
    client_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Response[bytes]:
    ctx = web_context(request)
    origin = normalise_origin(parent_origin)
    try:
        pool = await ctx.services.pools.get(pool_id)
    except PoolNotFound:
        return _answer(FrameCheck(allowed=False, reason="unknown_pool", origin=origin))
    theme = ctx.renderer.theme(pool)
    colors = theme.colors
    fallback = FallbackTheme(
        primary=colors.primary,
        primary_contrast=colors.primary_contrast,
        surface=colors.surface,
        text=colors.text,
        border=colors.border,
        radius=theme.radius,
        font_family=theme.font.family,
    )
    app = await load_client(ctx.services, client_id) if client_id else None
    if app is not None and pool.id in app.pool_ids:
        # An app's login is framed by the app's origins (``login_views``), not the pool's.
        allowed = origin is not None and origin in app.allowed_origins
    else:
        allowed = pool.allows_origin(origin)
    reason = None if allowed else ("origin_missing" if origin is None else "origin_not_allowed")
    if not allowed and origin is not None:
        await _record(request, pool.id, origin)
    check = FrameCheck(
        allowed=allowed, reason=reason, origin=origin, pool_name=pool.name, theme=fallback
    )
    return _answer(check)


async def _record(request: Request[Any, Any, Any], pool_id: str, origin: str) -> None:
    """Into the embed log (counted in memory, written every few seconds: a flood of
    refusals costs a dict update each, not a write each)."""
    services = web_context(request).services
    embed_log: EmbedLog = request.app.state.embed_log
    now = services.clock.now()
    if embed_log.note(pool_id, origin, now):
        log.warning("embed refused: pool %s may not be framed by %s", pool_id, origin)
    if embed_log.due(now):
        await embed_log.flush(services.db, now)


def _answer(check: FrameCheck) -> Response[bytes]:
    return Response(
        msgspec.json.encode(check),
        media_type=MediaType.JSON,
        headers={"access-control-allow-origin": "*", "cache-control": "no-store"},
    )


HANDLERS = [frame_check]
