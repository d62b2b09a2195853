"""Fixtures of the admin portal tests: demo administrators, signed-in clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.conftest import Harness
from tests.web.portal_client import PortalClient, portal_client, seed_admins, signed_in
from widget_server.seed import DemoAdmin


@pytest.fixture
async def h(harness: Harness) -> AsyncIterator[Harness]:
    await seed_admins(harness)
    yield harness


@pytest.fixture
async def anon(h: Harness) -> AsyncIterator[PortalClient]:
    async with portal_client(h) as client:
        yield PortalClient(h, client)


Login = Callable[[DemoAdmin], Awaitable[PortalClient]]


@pytest.fixture
async def login(h: Harness) -> AsyncIterator[Login]:
    """``await login(OPERATOR)``: a signed-in portal client, closed after the test."""
    opened: list[PortalClient] = []

    async def make(who: DemoAdmin) -> PortalClient:
        opened.append(await signed_in(h, who))
        return opened[-1]

    yield make
    for client in opened:
        await client.client.aclose()
