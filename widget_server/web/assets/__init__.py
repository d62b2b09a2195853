"""Static files for every browser page (the widget's, the portals', the partner's
``embed.js``): fingerprinted, compressed, cached for as long as they cannot change; and the
brand designers' uploads, by content hash."""

from __future__ import annotations

from litestar import Router

from widget_server.web.assets import brand, handlers


def router() -> Router:
    return Router(
        path="/", route_handlers=[*handlers.HANDLERS, *brand.HANDLERS], include_in_schema=False
    )
