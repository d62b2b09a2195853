"""The brand studio (``/admin/branding``): brand designers, tenant admins and pool admins
with branding rights edit themes with a live preview, publish, roll back, assign them, and
manage workspaces. It shares the admin portal's session, layout and CSRF checks
(``web/shared/portal_frame.py``)."""

from __future__ import annotations

from litestar import Router

from widget_server.errors import WidgetError
from widget_server.web.shared.portal_frame import error_page
from widget_server.web.studio import preview, themes, tryit, workspaces


def router() -> Router:
    # Paths in the handlers are absolute (/admin/branding/...), so the router adds none.
    return Router(
        path="/",
        route_handlers=[
            *themes.HANDLERS,
            *preview.HANDLERS,
            *tryit.HANDLERS,
            *workspaces.HANDLERS,
        ],
        include_in_schema=False,
        exception_handlers={WidgetError: error_page},
    )
