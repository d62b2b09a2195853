"""What handlers reach through ``request.app.state``: the services and the renderer, and
the throttles built on the shared counter store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from widget_server.auth.mfa import MfaThrottle
from widget_server.auth.throttle import LoginThrottle
from widget_server.services import Services
from widget_server.web.shared.render import Renderer


@dataclass(frozen=True)
class WebContext:
    services: Services
    renderer: Renderer


def web_context(request: Request[Any, Any, Any]) -> WebContext:
    context: WebContext = request.app.state.web
    return context


def login_throttle(request: Request[Any, Any, Any]) -> LoginThrottle:
    """End users' sign-in counters: in this process, or in Redis shared by every process."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def mfa_throttle(request: Request[Any, Any, Any]) -> MfaThrottle:
    """Per-user second-factor counters, on the login throttle's store (Redis or memory)."""
    services = web_context(request).services
    clock = services.clock
    return MfaThrottle(
        login_throttle(request).store,
        services.settings.secret_key,
        now=lambda: clock.now().timestamp(),
    )
