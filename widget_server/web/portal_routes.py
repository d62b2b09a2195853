"""Every portal page, and the error handler they share."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from widget_server.errors import WidgetError
from widget_server.web import portal_login
from widget_server.web.portal import error_page

HANDLERS: list[ControllerRouterHandler] = [
    portal_login.login_form,
    portal_login.login,
    portal_login.logout,
    portal_login.dashboard,
]


def portal_router() -> Router:
    # Paths in the handlers are absolute (/admin/...), so the router adds none.
    return Router(
        path="/",
        route_handlers=HANDLERS,
        include_in_schema=False,
        exception_handlers={WidgetError: error_page},
    )
