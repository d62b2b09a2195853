"""The test harness with an SMS provider of the test's choosing (tests/conftest.py's
``harness`` has none), and a local webhook receiver."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.conftest import PARTNER, Harness
from widget_server.clock import ManualClock
from widget_server.mail.senders import MemorySender
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import seed_demo
from widget_server.settings import Settings
from widget_server.sms import MemorySms, SmsProvider
from widget_server.web.app import create_app

SECRET = "webhook-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def sms_harness(
    settings: Settings, clock: ManualClock, sender: MemorySender, sms: SmsProvider
) -> AsyncIterator[Harness]:
    app = create_app(
        settings, clock=clock, sender=sender, sms=sms, hasher=Argon2Hasher.fast_for_tests()
    )
    for hook in app.on_startup:
        await hook()  # type: ignore[misc]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://widget.test") as client:
            await seed_demo(app.state.web.services.db, clock, [PARTNER])
            yield Harness(app, client, clock, sender, settings)
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[misc]


def codes_in(sms: MemorySms, number: str) -> list[str]:
    """The 6-digit codes texted to ``number``, oldest first."""
    return [m.group(1) for t in sms.to(number) if (m := re.match(r"(\d{6}) ", t.body))]
