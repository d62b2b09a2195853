"""Response headers every page gets, and the origin checks for embedding.

A widget page may be framed only by the pool's allowed origins (``frame-ancestors``);
every other page by nobody. Scripts and styles come only from this server: themes are
served as a stylesheet, never inlined, so no ``unsafe-inline`` is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

CSP_BASE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'"
)
#: Sent on HTTPS responses only (RFC 6797 §7.2: a UA ignores it over plain HTTP): a year,
#: without ``includeSubDomains``, which would bind hosts of the operator's domain this
#: server does not serve; without ``preload``, a decision for the domain's owner.
HSTS = (b"strict-transport-security", b"max-age=31536000")
STATIC_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


HOST_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def frame_ancestors(origins: Iterable[str]) -> str:
    listed = " ".join(o for o in origins if normalise_origin(o) == o)
    return f"{CSP_BASE}; frame-ancestors {listed or chr(39) + 'none' + chr(39)}"


def normalise_origin(value: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL or origin, or None if it is not one."""
    if not value or len(value) > 255:
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.username:
        return None
    if parts.password is not None or parts.path not in {"", "/"} or parts.query or parts.fragment:
        # An origin has no path; a Referer does, so callers strip it first.
        return None
    host = parts.hostname
    if not HOST_NAME.fullmatch(host):
        # Spaces, quotes, ";" or "*" in a host would smuggle sources into the CSP header.
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origin_of_url(url: str | None) -> str | None:
    if not url or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return normalise_origin(f"{parts.scheme}://{parts.netloc}")


class SecurityHeadersMiddleware:
    """Adds the headers above, a deny-all CSP to responses that did not set one, and HSTS
    to responses over HTTPS: TLS to this process, or to a trusted balancer that said so
    (``proxy.ForwardedClientMiddleware``, which runs first, sets the scope's scheme)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return

        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in STATIC_HEADERS if h[0] not in names)
                if secure and HSTS[0] not in names:
                    headers.append(HSTS)
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", frame_ancestors(()).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
