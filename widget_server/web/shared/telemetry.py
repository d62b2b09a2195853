"""Every HTTP request timed by route and given a request id.

``RequestTelemetry`` wraps the app's whole ASGI handler (``Litestar.asgi_handler``, the
place Litestar's own OpenTelemetry middleware takes), not a route's middleware stack, so
it also sees the requests no route matches. After the router has run, the scope holds
the matched route's template (``scope["path_template"]``, e.g.
``/embed/{pool_id}/register``): the latency histogram is labelled with it, never with the
raw path, and a path no route matches counts as ``unmatched``, so a scanner trying a
million paths adds no series. Methods outside the usual few count as ``OTHER``.

The request id: ``X-Request-ID`` from a trusted balancer (``WIDGET_TRUSTED_PROXIES``, the
TCP peer) when it is 1 to 64 characters of ``[A-Za-z0-9._:-]``, else 20 new random hex digits. It is
set for the request's logs (``observe/logs.REQUEST_ID``) and sent back as
``X-Request-ID``. With logging at DEBUG, one line per request says the route template,
method, status and milliseconds (no path, no query: they may hold flow ids).
"""

from __future__ import annotations

import logging
import os
import re
import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from widget_server.forwarded import TrustedProxies
from widget_server.observe.logs import REQUEST_ID
from widget_server.observe.metrics import UNMATCHED, Metrics

log = logging.getLogger("widget_server.requests")

HEADER = b"x-request-id"
_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestTelemetry:
    def __init__(self, app: ASGIApp, metrics: Metrics, proxies: TrustedProxies) -> None:
        self.app = app
        self.metrics = metrics
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        header = (HEADER, request_id.encode())
        status = 500  # if the app fails before it answers

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, answer)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or UNMATCHED
            method = str(scope.get("method", "GET"))
            method = method if method in _METHODS else "OTHER"
            self.metrics.request(route, method, status, seconds)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "request",
                    extra={"route": route, "method": method, "status": status,
                           "ms": round(seconds * 1000, 2)},
                )  # fmt: skip
            REQUEST_ID.reset(token)

    def _request_id(self, scope: Scope) -> str:
        peer = scope.get("client")
        if self.proxies and peer is not None and self.proxies.trusts(peer[0]):
            for name, value in scope["headers"]:
                if name == HEADER and _SAFE_ID.fullmatch(value):
                    return value.decode()
        # 80 random bits as hex: unique enough to find one request's lines, and a third
        # of a UUID's CPU (this runs on every request).
        return os.urandom(10).hex()
