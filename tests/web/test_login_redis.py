"""The app with ``redis_url`` set: login throttling counts in Redis, shared by every server
process (skipped when Redis is unreachable, unless ``TEST_REQUIRE_REDIS=1``)."""

from __future__ import annotations

import dataclasses
import re
import uuid

import httpx
import pytest
import redis.asyncio as aioredis

from tests.auth.people import make_user
from tests.auth.test_throttle import REDIS_URL, _redis_store
from tests.conftest import PARTNER, Harness
from tests.web.login_client import LoginClient
from widget_server.auth.throttle import Delays, RedisStore
from widget_server.clock import ManualClock
from widget_server.mail.senders import MemorySender
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import seed_demo
from widget_server.settings import Settings
from widget_server.web.app import create_app


@pytest.mark.redis
async def test_login_throttling_counts_in_redis(
    settings: Settings, clock: ManualClock, sender: MemorySender
) -> None:
    probe = await _redis_store(Delays())  # skips (or fails under CI) without Redis
    await probe.close()
    app = create_app(
        dataclasses.replace(settings, redis_url=REDIS_URL),
        clock=clock,
        sender=sender,
        hasher=Argon2Hasher.fast_for_tests(),
    )
    store = app.state.login_throttle.store
    assert isinstance(store, RedisStore)
    store.prefix = f"test:{uuid.uuid4().hex}:"  # this test's own keys
    for hook in app.on_startup:
        await hook()  # type: ignore[misc]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://widget.test") as client:
            await seed_demo(app.state.web.services.db, clock, [PARTNER])
            h = Harness(app, client, clock, sender, settings)
            ada = await make_user(h)
            for _ in range(5):
                page = await LoginClient(h).log_in(ada.email, "wrong password!")
                assert page.message_ids == ["login.failed"]
            login = LoginClient(h)
            page = await login.log_in(ada.email, ada.password)
            assert page.status == 429 and page.message_ids == ["login.throttled"]
            assert login.last is not None and login.last.headers["retry-after"] == "1"
            redis = aioredis.Redis.from_url(REDIS_URL)
            try:
                keys = [k async for k in redis.scan_iter(match=store.prefix + "*")]
                assert len(keys) == 2  # the account+IP counter and the IP counter
                # Identifiers are keyed-hashed: an account key is "a:<40 hex>:<ip>", so no
                # part of the address can be in it. (A substring test for "ada" was flaky:
                # a hex digest contains "ada" by chance in about 1.5% of keys.)
                suffixes = sorted(k.decode().removeprefix(store.prefix) for k in keys)
                assert re.fullmatch(r"a:[0-9a-f]{40}:[^:@]+", suffixes[0]), suffixes
                assert re.fullmatch(r"i:[^:@]+", suffixes[1]), suffixes
                await redis.delete(*keys)
            finally:
                await redis.aclose()
            clock.advance(1)
            assert (await LoginClient(h).log_in(ada.email, ada.password)).state == "done"
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[misc]
