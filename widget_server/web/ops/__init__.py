"""What operations (load balancers, orchestrators, SREs) ask of a process."""

from __future__ import annotations

from litestar import Router

from widget_server.web.ops import health, metrics


def router() -> Router:
    return Router(
        path="/", route_handlers=[*health.HANDLERS, *metrics.HANDLERS], include_in_schema=False
    )
