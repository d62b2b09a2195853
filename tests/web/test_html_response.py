"""``HtmlResponse`` sends what Litestar's own ``Response`` would, by a shorter path."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar, Response, get
from litestar.datastructures import Cookie
from litestar.enums import MediaType

from widget_server.web.shared.responses import HtmlResponse

HEADERS = {"content-security-policy": "frame-ancestors 'none'", "Vary": "HX-Request"}
BODY = "<p>Grüße &amp; ✓</p>"


@get("/fast")
async def fast() -> Response[str]:
    return HtmlResponse(BODY, 422, dict(HEADERS))


@get("/generic")
async def generic() -> Response[str]:
    return Response(BODY, status_code=422, media_type=MediaType.HTML, headers=dict(HEADERS))


@get("/with-cookie")
async def with_cookie() -> Response[str]:
    response = HtmlResponse(BODY, 200, dict(HEADERS))
    response.set_cookie(Cookie(key="s", value="v", httponly=True))
    return response


@get("/route-headers", response_headers={"x-route": "yes"})
async def route_headers() -> Response[str]:
    return HtmlResponse(BODY, 200, dict(HEADERS))


async def fetch(path: str) -> httpx.Response:
    app = Litestar([fast, generic, with_cookie, route_headers])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get(path)


def header_set(response: httpx.Response) -> set[tuple[str, str]]:
    return {(k.lower(), v) for k, v in response.headers.multi_items()}


async def test_the_short_path_sends_the_same_status_headers_and_body() -> None:
    ours, theirs = await fetch("/fast"), await fetch("/generic")
    assert ours.status_code == theirs.status_code == 422
    assert ours.content == theirs.content == BODY.encode()
    assert header_set(ours) == header_set(theirs)
    assert ours.headers["content-type"] == "text/html; charset=utf-8"
    assert ours.headers["content-length"] == str(len(BODY.encode()))


async def test_cookies_and_route_headers_take_litestars_path() -> None:
    cookie: Any = await fetch("/with-cookie")
    assert cookie.cookies["s"] == "v" and "HttpOnly" in cookie.headers["set-cookie"]
    assert cookie.text == BODY
    routed = await fetch("/route-headers")
    assert routed.headers["x-route"] == "yes" and routed.headers["vary"] == "HX-Request"
