"""The studio's "try it" sandboxes served: ``/embed/try_…/…`` goes to the sandbox's own
small app, the widget's router on the sandbox's services (``branding/sandbox.py``).

The widget's pages name their URLs by pool id (``/embed/{pool}/register``), so a
sandbox, whose pool copy is renamed to the sandbox id, is reached at the same paths as
a real pool; this dispatcher, in front of the whole app, sends those paths to the
sandbox when the request carries the sandbox's cookie (``sandbox.COOKIE``, ``Path`` the
sandbox's own ``/embed/{id}``) and the portal session that opened it is still signed
in. Anything else goes on to the server, where no pool has such an id: a 404.

It is not a surface (it mounts one, the widget's, on other services), so it lives
beside ``app.py``.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

from litestar import Litestar
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from widget_server.auth.throttle import LoginThrottle, MemoryStore
from widget_server.branding.sandbox import (
    COOKIE,
    Sandbox,
    Sandboxes,
    is_sandbox_id,
    session_alive,
)
from widget_server.developers.embed_log import EmbedLog
from widget_server.services import Services
from widget_server.web import widget
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.render import Renderer
from widget_server.web.shared.security import SecurityHeadersMiddleware


class SandboxDispatch:
    def __init__(
        self, app: ASGIApp, sandboxes: Sandboxes, services: Services, renderer: Renderer
    ) -> None:
        self.app, self.sandboxes = app, sandboxes
        self.services, self.renderer = services, renderer
        self._apps: dict[str, Litestar] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = await self._sandbox_app(scope) if scope["type"] == ScopeType.HTTP else None
        if target is None:
            await self.app(scope, receive, send)
            return
        inner = dict(scope)
        inner["state"] = {}
        await target(inner, receive, send)  # type: ignore[arg-type]

    async def _sandbox_app(self, scope: Scope) -> Litestar | None:
        parts = scope["path"].split("/", 3)
        if len(parts) < 3 or parts[1] != "embed" or not is_sandbox_id(parts[2]):
            return None
        sandbox = await self.sandboxes.find(parts[2], self.services.clock.now())
        # Forget the apps of sandboxes that have closed.
        for gone in [k for k in self._apps if k != parts[2]]:
            if await self.sandboxes.find(gone, self.services.clock.now()) is None:
                del self._apps[gone]
        if sandbox is None or not sandbox.opens_with(_cookie(scope)):
            return None
        if not await session_alive(self.services, sandbox.session_hash):
            return None
        app = self._apps.get(sandbox.id)
        if app is None:
            app = self._apps[sandbox.id] = self._build(sandbox)
        return app

    def _build(self, sandbox: Sandbox) -> Litestar:
        clock = sandbox.services.clock
        throttle = LoginThrottle(
            MemoryStore(), self.services.settings.secret_key, now=lambda: clock.now().timestamp()
        )
        return Litestar(
            route_handlers=[widget.router()],
            state=State(
                {
                    "web": WebContext(sandbox.services, Renderer(self.renderer.env)),
                    "login_throttle": throttle,
                    # The embed test page counts refused origins; a sandbox's are dropped.
                    "embed_log": EmbedLog(),
                }
            ),
            middleware=[DefineMiddleware(SecurityHeadersMiddleware)],
            request_max_body_size=self.services.settings.max_body_bytes,
            openapi_config=None,
        )


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # an unreadable cookie header opens nothing
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None
