"""``html``: a widget page is Litestar's own ``Response`` (no private path to ASGI) with
the headers every page carries, and the route's headers and cookies still reach it."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar, Response, get
from litestar.datastructures import Cookie

from tests.mail.test_compose import pool
from widget_server.web.shared.responses import html
from widget_server.web.shared.security import frame_ancestors

BODY = "<p>Grüße &amp; ✓</p>"
FRAMED = pool("Partner 1")


@get("/page")
async def page() -> Response[str]:
    return html(FRAMED, BODY, 422, **{"x-extra": "1"})


@get("/with-cookie")
async def with_cookie() -> Response[str]:
    response = html(None, BODY)
    response.set_cookie(Cookie(key="s", value="v", httponly=True))
    return response


@get("/route-headers", response_headers={"x-route": "yes"})
async def route_headers() -> Response[str]:
    return html(None, BODY)


async def fetch(path: str) -> httpx.Response:
    app = Litestar([page, with_cookie, route_headers])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


async def test_a_page_carries_its_status_body_and_headers() -> None:
    response = await fetch("/page")
    assert response.status_code == 422
    assert response.content == BODY.encode()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-length"] == str(len(BODY.encode()))
    assert response.headers["content-security-policy"] == frame_ancestors(FRAMED.frame_origins)
    assert response.headers["vary"] == "HX-Request"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-extra"] == "1"


async def test_cookies_and_route_headers_reach_the_page() -> None:
    cookie: Any = await fetch("/with-cookie")
    assert cookie.cookies["s"] == "v" and "HttpOnly" in cookie.headers["set-cookie"]
    assert cookie.text == BODY
    routed = await fetch("/route-headers")
    assert routed.headers["x-route"] == "yes" and routed.headers["vary"] == "HX-Request"
    assert "frame-ancestors 'none'" in routed.headers["content-security-policy"]
