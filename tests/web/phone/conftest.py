"""The tests of the phone pool run on an app with an in-memory SMS provider (``sms``)
whose outbox is stopped: each test delivers when it means to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Harness
from tests.sms.helpers import sms_harness
from widget_server.clock import ManualClock
from widget_server.mail.senders import MemorySender
from widget_server.settings import Settings
from widget_server.sms import MemorySms


@pytest.fixture
def sms() -> MemorySms:
    return MemorySms()


@pytest.fixture
async def harness(
    settings: Settings, clock: ManualClock, sender: MemorySender, sms: MemorySms
) -> AsyncIterator[Harness]:
    async with sms_harness(settings, clock, sender, sms) as h:
        await h.outbox.stop()  # the tests deliver themselves
        yield h
