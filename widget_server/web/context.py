"""What handlers reach through ``request.app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request

from widget_server.services import Services
from widget_server.web.render import Renderer


@dataclass(frozen=True)
class WebContext:
    services: Services
    renderer: Renderer


def web_context(request: Request[Any, Any, Any]) -> WebContext:
    context: WebContext = request.app.state.web
    return context
