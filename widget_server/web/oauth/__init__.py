"""OAuth 2.0 / OpenID Connect for relying parties: discovery, keys, the authorization and
consent pages, the token and userinfo endpoints."""

from __future__ import annotations

from litestar import Router

from widget_server.web.oauth import authorize, tokens


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[*tokens.HANDLERS, *authorize.HANDLERS],
        include_in_schema=False,
    )
