"""The JSON admin API (``/api/admin``) for operators' scripts: API-key authentication,
one module per resource, one error shape, every response documented in the OpenAPI
document."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from widget_server.web.api import (
    admins,
    apps,
    audit,
    brand_assets,
    developer_config,
    developer_invitations,
    funnel,
    jobs,
    pools,
    schemas,
    theme_assignments,
    themes,
    users,
    webhooks,
    workspaces,
)
from widget_server.web.api.base import API_PATH, EXCEPTION_HANDLERS, provide_actor
from widget_server.web.api.bodies import admit


def router() -> Router:
    """Every handler gets ``actor`` from the API key, and errors in one shape."""
    return Router(
        path=API_PATH,
        route_handlers=[
            *pools.HANDLERS,
            *users.HANDLERS,
            *schemas.HANDLERS,
            *admins.HANDLERS,
            *audit.HANDLERS,
            *apps.HANDLERS,
            *webhooks.HANDLERS,
            *funnel.HANDLERS,
            *jobs.HANDLERS,
            *developer_invitations.HANDLERS,
            *developer_config.HANDLERS,
            *themes.HANDLERS,
            *brand_assets.HANDLERS,
            *theme_assignments.HANDLERS,
            *workspaces.HANDLERS,
        ],
        # The key before the body: the guard runs before Litestar decodes ``data``.
        guards=[admit],
        dependencies={"actor": Provide(provide_actor)},
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=True,
    )
