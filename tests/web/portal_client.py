"""A browser-like client for the admin portal: HTTPS (the session cookie is ``Secure``),
cookies kept, the CSRF token read from the last page, redirects followed by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from widget_server.seed import DEMO_ADMINS, seed_demo_admins

if TYPE_CHECKING:
    from tests.conftest import Harness

OPERATOR = DEMO_ADMINS[0]
LEAD = DEMO_ADMINS[1]
ORIGIN = "https://widget.test"


@dataclass
class PortalClient:
    h: Harness
    client: httpx.AsyncClient
    csrf: str = ""
    last: httpx.Response | None = field(default=None)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        self._remember(response)
        return response

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = None, **kw: Any
    ) -> httpx.Response:
        body = {"csrf_token": self.csrf if csrf is None else csrf, **(data or {})}
        if csrf == "":
            body.pop("csrf_token")
        response = await self.client.post(path, data=body, **kw)
        self._remember(response)
        return response

    async def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, response.text[:500]
        return await self.get(response.headers["location"])

    async def sign_in(self, email: str, password: str) -> httpx.Response:
        return await self.client.post("/admin/login", data={"email": email, "password": password})

    def _remember(self, response: httpx.Response) -> None:
        self.last = response
        match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        if match:
            self.csrf = match.group(1)


def message_ids(response: httpx.Response) -> list[str]:
    return re.findall(r'data-message-id="([a-z_.]+)"', response.text)


def field_errors(response: httpx.Response, name: str) -> list[str]:
    block = re.search(
        rf'<ul class="adm-field-errors" id="err-{re.escape(name)}">(.*?)</ul>', response.text, re.S
    )
    return re.findall(r'data-message-id="([a-z_.]+)"', block.group(1)) if block else []


async def seed_admins(h: Harness) -> None:
    hasher = h.web.services.hashing.hasher
    await seed_demo_admins(h.web.services.db, h.clock, hasher.hash)


def portal_client(h: Harness) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=h.app, client=("203.0.113.7", 50000)),
        base_url=ORIGIN,
    )


async def signed_in(h: Harness, who: Any = OPERATOR) -> PortalClient:
    client = PortalClient(h, portal_client(h))
    response = await client.sign_in(who.email, who.password)
    assert response.status_code == 303, response.text[:500]
    await client.follow(response)
    return client
