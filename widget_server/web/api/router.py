"""The admin API router: every handler gets ``actor`` from the API key, and errors in one
shape (``base.ErrorBody``)."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from widget_server.web.api import admins, apps, audit, pools, schemas, users
from widget_server.web.api.base import EXCEPTION_HANDLERS, provide_actor

API_PATH = "/api/admin"


def admin_api_router() -> Router:
    return Router(
        path=API_PATH,
        route_handlers=[
            *pools.HANDLERS,
            *users.HANDLERS,
            *schemas.HANDLERS,
            *admins.HANDLERS,
            *audit.HANDLERS,
            *apps.HANDLERS,
        ],
        dependencies={"actor": Provide(provide_actor)},
        exception_handlers=EXCEPTION_HANDLERS,
        include_in_schema=True,
    )
