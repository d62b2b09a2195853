"""``/embed/{pool}/theme.css[?app=…]``: the pool's (and an app's) resolved theme as CSS
custom properties."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import QueryParameter

from widget_server.web.shared.context import web_context
from widget_server.web.shared.params import CurrentPool


@get("/embed/{pool_id:str}/theme.css")
async def theme_css(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    app: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Response[str]:
    """``app``: the client id of the app a page signs in to, whose own theme layer goes on
    top of the pool's (an app without one, or unknown here, gets the pool's stylesheet).
    The URL carries the pool version, so the stylesheet can be cached hard."""
    return Response(
        web_context(request).renderer.theme_css(pool, app),
        media_type="text/css",
        headers={"cache-control": "public, max-age=300"},
    )


HANDLERS = [theme_css]
