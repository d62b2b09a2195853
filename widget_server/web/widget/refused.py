"""The widget's own page for a refused frame: when a widget page is loaded in an iframe
(``Sec-Fetch-Dest: iframe``) with a ``parent_origin`` the pool does not allow, the
browser would show its grey "refused to connect" box and the developer would see nothing
but a CSP line in the console. Instead the widget answers a small notice that names the
refused origin and says where to allow it, and logs the same to the console
(``static/refused-frame.js``).

Its ``frame-ancestors`` is that one origin, so the notice can be shown there; it holds no
form, no link that acts, and nothing about any user, so framing it gives an attacker
nothing to click. A wrong ``parent_origin`` gains nothing either: the browser still
enforces the header. An app's login (``client_id``) is left to its page, whose
``frame-ancestors`` are the app's origins; a top-level visit (the popup) is never
refused.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType

from widget_server.errors import PoolNotFound
from widget_server.messages import msg
from widget_server.web.shared.context import web_context
from widget_server.web.shared.security import CSP_BASE, normalise_origin

#: The pages a partner frames: the flows a snippet names.
_FRAMED = re.compile(r"/embed/([^/]{1,64})/(register|login|recover)")


async def refuse_foreign_frame(request: Request[Any, Any, Any]) -> Response[str] | None:
    """The notice instead of the page, or None to go on (Litestar's ``before_request``)."""
    if request.method != "GET" or request.headers.get("sec-fetch-dest") != "iframe":
        return None
    match = _FRAMED.fullmatch(request.url.path)
    query = request.query_params
    if match is None or "client_id" in query:
        return None
    origin = normalise_origin(query.get("parent_origin"))
    if origin is None:
        return None
    ctx = web_context(request)
    try:
        pool = await ctx.services.pools.get(match.group(1))
    except PoolNotFound:
        return None  # the router's not-found page
    if pool.allows_origin(origin):
        return None
    theme = ctx.renderer.theme(pool)
    body = ctx.renderer.page(
        "refused_frame.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        refused_origin=origin,
        parent_origin=None,  # the frame is refused: nothing to talk to
        said=msg("embed.refused_origin", "error", pool=pool.name, origin=origin),
        hint=msg("embed.refused_origin_help", "info", origin=origin),
        portal=f"{ctx.services.settings.public_url}/developers/embed-log",
    )
    return Response(
        body,
        status_code=403,
        media_type=MediaType.HTML,
        headers={
            "content-security-policy": f"{CSP_BASE}; frame-ancestors {origin}",
            "cache-control": "no-store",
        },
    )
