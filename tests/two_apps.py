"""Two server processes in one test: two ``create_app`` instances on one PostgreSQL
database (and one Redis), each with its own caches, throttle objects, outbox worker and
change listener, as two ``widget-server serve`` processes would have."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tests.conftest import PARTNER, POSTGRES_URL, Harness, require_postgres, reset_postgres
from widget_server.auth.throttle import RedisStore
from widget_server.changes import PostgresFeed
from widget_server.clock import ManualClock
from widget_server.mail.senders import MemorySender
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import seed_demo
from widget_server.settings import Settings
from widget_server.web.app import create_app

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def require_redis() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError):
        if os.environ.get("TEST_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis required (TEST_REQUIRE_REDIS=1) but {REDIS_URL} is unreachable")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def started(settings: Settings, clock: ManualClock, prefix: str) -> AsyncIterator[Harness]:
    sender = MemorySender()
    app = create_app(settings, clock=clock, sender=sender, hasher=Argon2Hasher.fast_for_tests())
    store = app.state.login_throttle.store
    assert isinstance(store, RedisStore)
    store.prefix = prefix  # the processes' shared counters, apart from other tests'
    for hook in app.on_startup:
        await hook()  # type: ignore[misc]
    try:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="https://widget.test") as client:
            yield Harness(app, client, clock, sender, settings)
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[misc]


@contextlib.asynccontextmanager
async def two_apps(**overrides: object) -> AsyncIterator[tuple[Harness, Harness]]:
    """Processes A and B on a fresh PostgreSQL database and Redis, with the demo seeded,
    both listening for each other's changes."""
    await require_postgres()
    await require_redis()
    await reset_postgres()
    settings = dataclasses.replace(
        Settings(
            database_url=POSTGRES_URL,
            secret_key="test-secret-key",
            outbox_poll_seconds=0.05,
            public_url="http://localhost:8000",
            redis_url=REDIS_URL,
        ),
        **overrides,  # type: ignore[arg-type]
    )
    clock = ManualClock()
    prefix = f"test:{uuid.uuid4().hex}:"
    async with started(settings, clock, prefix) as a, started(settings, clock, prefix) as b:
        await seed_demo(a.web.services.db, clock, [PARTNER])
        for h in (a, b):
            await listening(h)
        yield a, b


async def listening(h: Harness) -> None:
    """Until the app's change listener is connected (it starts in the background)."""
    feed = h.web.services.changes
    assert isinstance(feed, PostgresFeed)
    await asyncio.wait_for(feed.connected.wait(), 10)
