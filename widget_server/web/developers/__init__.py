"""The developer portal (``/developers``): partner developers sign in, see their pools and
apps, register apps and allow their sites on them, generate embed snippets from the live
configuration, manage webhook endpoints (``webhooks.py``), and read the contract
(events, claims, error ids, webhook payloads)."""

from __future__ import annotations

from litestar import Router

from widget_server.errors import WidgetError
from widget_server.web.developers import (
    app_origins,
    config_pages,
    embed_check,
    embed_log,
    join,
    pages,
    webhooks,
)
from widget_server.web.developers.frame import error_page


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            *pages.HANDLERS,
            *webhooks.HANDLERS,
            *app_origins.HANDLERS,
            *join.HANDLERS,
            *embed_log.HANDLERS,
            *config_pages.HANDLERS,
            *embed_check.HANDLERS,
        ],
        include_in_schema=False,
        exception_handlers={WidgetError: error_page},
    )
