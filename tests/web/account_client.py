"""Drives the account portal over HTTP as the iframe would, with a signed-in session.

Signs in through the real login page (``LoginClient``), then reads the page's forms by
their action: each form's CSRF token is the session's, so a test posts what a browser
would, and can leave the token out or forge it.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import PARTNER, FlowPage, Harness
from tests.web.login_client import LoginClient


class AccountClient:
    def __init__(self, harness: Harness, pool: str = "partner-1", htmx: bool = False) -> None:
        self.h, self.pool, self.htmx = harness, pool, htmx
        self.login = LoginClient(harness, pool, htmx=True)
        self.page: FlowPage | None = None
        self.last: httpx.Response | None = None

    @property
    def path(self) -> str:
        return f"/embed/{self.pool}/account"

    @property
    def cookies(self) -> dict[str, str]:
        return self.login.cookies

    def headers(self) -> dict[str, str]:
        headers = self.login.headers()
        if not self.htmx:
            headers.pop("HX-Request", None)
        return headers

    async def sign_in(self, email: str, password: str) -> FlowPage:
        page = await self.login.log_in(email, password)
        assert page.state == "done", page.message_ids
        return await self.open()

    async def open(self, **params: str) -> FlowPage:
        query = {"parent_origin": PARTNER} | params
        response = await self.h.client.get(self.path, params=query, headers=self.headers())
        self.page = FlowPage(response, self.pool)
        return self.page

    @property
    def csrf(self) -> str:
        assert self.page is not None
        match = re.search(
            rf'action="{re.escape(self.path)}/[^"]*".*?name="csrf_token" value="([^"]+)"',
            self.page.text,
            re.S,
        )
        assert match is not None, "no account form on the page"
        return match.group(1)

    async def post(self, suffix: str, csrf: str | None = "", **fields: Any) -> FlowPage:
        """POST to ``account/<suffix>`` with this page's token (``csrf=None``: none at all)."""
        body: dict[str, Any] = dict(fields)
        token = self.csrf if csrf == "" else csrf
        if token is not None:
            body["csrf_token"] = token
        response = await self.h.client.post(
            f"{self.path}/{suffix}", data=body, headers=self.headers()
        )
        self.last = response
        self.login._remember(response)
        if response.status_code == 303:
            location = response.headers["location"]
            assert location.startswith(self.path), location
            response = await self.h.client.get(location, headers=self.headers())
        self.page = FlowPage(response, self.pool)
        return self.page

    def section(self, name: str) -> str:
        assert self.page is not None
        match = re.search(
            rf'<section class="ws-section" id="{name}".*?</section>', self.page.text, re.S
        )
        assert match is not None, f"no section {name}"
        return match.group(0)

    def section_messages(self, name: str) -> list[str]:
        return re.findall(r'data-message-id="([a-z_.]+)"', self.section(name))
