"""Pages every end-user surface may answer with: the plain not-found page (an unknown pool
or app), and the routers' exception handler that draws it; the unreadable-request page
(``MalformedInput``: a posted field that is not UTF-8), the app's handler for it on
every surface."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from widget_server.errors import MalformedInput, WidgetError
from widget_server.messages import msg
from widget_server.pools import PoolView
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.errors import explain, status_for
from widget_server.web.shared.responses import html


def not_found_page(ctx: WebContext, exc: WidgetError) -> Response[str]:
    body = ctx.renderer.page(
        "error.html", message=exc.message, parent_origin=None, pool=None, full_page=True
    )
    return html(None, body, status_for(exc))


def not_found(request: Request[Any, Any, Any], exc: WidgetError) -> Response[str]:
    """The routers' handler for ``PoolNotFound`` and ``UnknownApp``."""
    return not_found_page(web_context(request), exc)


def unreadable(request: Request[Any, Any, Any], exc: MalformedInput) -> Response[str]:
    """400 naming the field that could not be read; nothing was stored or guessed. On a
    pool's page, in the pool's theme and wording, like the form it answers."""
    said = explain(exc)
    [message, *_] = said.messages
    ctx = web_context(request)
    pool = _pool_of(ctx, request)
    if pool is None:
        body = ctx.renderer.page(
            "error.html",
            message=message,
            heading=msg("ui.unreadable_title").text(),
            parent_origin=None,
            pool=None,
            full_page=True,
        )
    else:
        theme = ctx.renderer.theme(pool)
        texts = ctx.renderer.texts(theme)
        body = ctx.renderer.page(
            "error.html",
            message=message,
            heading=texts["say"]("ui.unreadable_title"),
            parent_origin=None,
            pool=pool,
            theme=theme,
            full_page=True,
            **texts,
        )
    return html(pool, body, said.status)


def _pool_of(ctx: WebContext, request: Request[Any, Any, Any]) -> PoolView | None:
    """The pool whose page ``request`` posted to (``/embed/<pool>/...``): its handler
    loaded it (``provide_pool``) before reading the form, so this process holds it."""
    pool_id = request.path_params.get("pool_id")
    return ctx.services.pools.peek(pool_id) if isinstance(pool_id, str) else None
