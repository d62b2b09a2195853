"""``/embed/{pool}/theme.css``: the pool's resolved theme as CSS custom properties."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from widget_server.web.shared.context import web_context
from widget_server.web.shared.params import CurrentPool


@get("/embed/{pool_id:str}/theme.css")
async def theme_css(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    # The URL carries the pool version, so the stylesheet can be cached hard.
    return Response(
        web_context(request).renderer.theme_css(pool),
        media_type="text/css",
        headers={"cache-control": "public, max-age=300"},
    )


HANDLERS = [theme_css]
