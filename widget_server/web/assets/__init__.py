"""Static files for every browser page (the widget's, the portals', the partner's
``embed.js``): fingerprinted, compressed, cached for as long as they cannot change."""

from __future__ import annotations

from litestar import Router

from widget_server.web.assets import handlers


def router() -> Router:
    return Router(path="/", route_handlers=handlers.HANDLERS, include_in_schema=False)
