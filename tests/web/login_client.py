"""Drives the login and logout pages over HTTP as the iframe would, with its own cookie.

The session cookie is ``Secure``, which httpx's cookie jar keeps away from the plain-http
test transport; so the client reads ``Set-Cookie`` itself and sends ``Cookie`` itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tests.conftest import PARTNER, FlowPage, Harness


def set_cookie(response: httpx.Response) -> dict[str, str] | None:
    """The Set-Cookie of the response as {"name": ..., "value": ..., attributes...}."""
    header = response.headers.get("set-cookie")
    if header is None:
        return None
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    cookie = {"name": name, "value": value}
    for attribute in rest:
        key, _, val = attribute.partition("=")
        cookie[key.lower()] = val or "true"
    return cookie


def event_of(page: FlowPage) -> dict[str, Any] | None:
    match = re.search(r"<script type=\"application/json\" data-ws-event>(.*?)</script>", page.text)
    return json.loads(match.group(1)) if match else None


def parent_origin_of(page: FlowPage) -> str | None:
    match = re.search(r'<meta name="ws-parent-origin" content="([^"]*)">', page.text)
    return match.group(1) if match else None


class LoginClient:
    def __init__(self, harness: Harness, pool: str = "partner-1", htmx: bool = True) -> None:
        self.h, self.pool, self.htmx = harness, pool, htmx
        self.page: FlowPage | None = None
        self.cookies: dict[str, str] = {}
        self.last: httpx.Response | None = None

    @property
    def path(self) -> str:
        return f"/embed/{self.pool}/login"

    def headers(self) -> dict[str, str]:
        headers = {"HX-Request": "true"} if self.htmx else {}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def _remember(self, response: httpx.Response) -> None:
        cookie = set_cookie(response)
        if cookie is None:
            return
        if cookie.get("max-age") == "0":
            self.cookies.pop(cookie["name"], None)
        else:
            self.cookies[cookie["name"]] = cookie["value"]

    @property
    def token(self) -> str | None:
        return self.cookies.get(f"ws_session_{self.pool}")

    async def open(self, **params: str) -> FlowPage:
        query = {"parent_origin": PARTNER} | params
        response = await self.h.client.get(self.path, params=query, headers=self.headers())
        self.page = FlowPage(response, self.pool)
        return self.page

    async def submit(self, identifier: str, password: str, **extra: str) -> FlowPage:
        assert self.page is not None
        body = {**self.page.hidden, "identifier": identifier, "password": password, **extra}
        body.pop("step", None)
        return await self.post(self.path, body)

    async def post(self, path: str, body: Any) -> FlowPage:
        response = await self.h.client.post(path, data=body, headers=self.headers())
        self.last = response
        self._remember(response)
        if response.status_code == 303 and response.headers["location"].startswith("/embed/"):
            response = await self.h.client.get(response.headers["location"], headers=self.headers())
            self._remember(response)
        page = FlowPage(response, self.pool)
        if page.hidden:
            self.page = page
        return page

    async def log_in(self, identifier: str, password: str, **params: str) -> FlowPage:
        await self.open(**params)
        return await self.submit(identifier, password)

    async def log_out(self, csrf: str | None = None) -> FlowPage:
        assert self.page is not None
        if csrf is None:
            match = re.search(r'name="csrf_token" value="([^"]+)"', self.page.text)
            assert match is not None
            csrf = match.group(1)
        return await self.post(
            f"/embed/{self.pool}/logout", {"csrf_token": csrf, "parent_origin": PARTNER}
        )
