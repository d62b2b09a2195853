"""The operator portal (``/admin``): operators and pool administrators in a browser sign
in, manage pools, users, administrators, schemas, apps and pools' webhook endpoints, and
read the audit log."""

from __future__ import annotations

from litestar import Router

from widget_server.errors import WidgetError
from widget_server.web.portal import (
    apps,
    developers,
    funnel,
    jobs,
    login,
    pools,
    tenant,
    users,
    webhooks,
)
from widget_server.web.shared.portal_frame import error_page


def router() -> Router:
    # Paths in the handlers are absolute (/admin/...), so the router adds none.
    return Router(
        path="/",
        route_handlers=[
            *login.HANDLERS,
            *pools.HANDLERS,
            *users.HANDLERS,
            *jobs.HANDLERS,
            *tenant.HANDLERS,
            *apps.HANDLERS,
            *funnel.HANDLERS,
            *developers.HANDLERS,
            *webhooks.HANDLERS,
        ],
        include_in_schema=False,
        exception_handlers={WidgetError: error_page},
    )
