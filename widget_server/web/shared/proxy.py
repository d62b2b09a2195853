"""The client's address behind trusted load balancers, set once per request.

``ForwardedClientMiddleware`` rewrites the ASGI scope's ``client`` to the address
``forwarded.TrustedProxies`` reads from the balancer's header, so every reader of the
address (``request_io.client_ip``: throttles, audit, session lists; uvicorn's access log)
sees the same one, and the scope's ``scheme`` to the one the client used
(``X-Forwarded-Proto`` or ``Forwarded: proto=``), so HTTPS behind a TLS-terminating
balancer is HTTPS to the app (``security.SecurityHeadersMiddleware`` sends HSTS on it).
It is installed only when ``WIDGET_TRUSTED_PROXIES`` names a proxy:
without one, the TCP peer is the client and nothing is read from headers.

Not uvicorn's ``ProxyHeadersMiddleware``: it reads ``X-Forwarded-For`` only (not RFC
7239 ``Forwarded``), and it turns an entry of its trusted list that does not parse into a
literal that never matches, so a typo in the setting would go unnoticed; here such a
setting stops the server at start with the setting's name.
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from widget_server.forwarded import TrustedProxies


class ForwardedClientMiddleware:
    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if peer is not None and scope["type"] in ("http", "websocket"):
            client = self.proxies.client(peer[0], scope["headers"])
            if client is not None and client != peer[0]:
                # The port is the proxy's connection's, not the client's: say none.
                scope["client"] = (client, 0)
            # TLS ended at the balancer: the scheme the client used, for HSTS and URLs.
            said = self.proxies.scheme(peer[0], scope["headers"])
            if said is not None:
                websocket = scope["type"] == ScopeType.WEBSOCKET
                scope["scheme"] = {"https": "wss", "http": "ws"}[said] if websocket else said
        await self.app(scope, receive, send)
