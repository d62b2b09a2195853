"""The account portal: signed-in end users manage their profile, password, addresses,
second factor and sessions under ``/embed/{pool}/account``, inside the same iframe."""

from __future__ import annotations

from litestar import Router

from widget_server.errors import PoolNotFound
from widget_server.web.account import handlers
from widget_server.web.shared.pages import not_found
from widget_server.web.shared.params import POOL


def router() -> Router:
    return Router(
        path="/",
        route_handlers=handlers.HANDLERS,
        dependencies=POOL,
        exception_handlers={PoolNotFound: not_found},
        include_in_schema=False,
    )
