"""The things every flow needs, built once by ``create_app`` and passed in explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from widget_server.changes import ChangeFeed, LocalFeed
from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.mail.compose import Composer
from widget_server.observe.telemetry import Telemetry
from widget_server.passwords.hashing import HashingPool
from widget_server.pools import PoolDirectory
from widget_server.settings import Settings


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    db: Database
    clock: Clock
    hashing: HashingPool
    pools: PoolDirectory
    composer: Composer
    #: Metrics and the sign-up funnel's counts (``observe/``).
    telemetry: Telemetry
    #: Called after a transaction that wrote outbox messages committed.
    notify_outbox: Callable[[], None] = field(default=lambda: None)
    #: Called after a transaction that queued a webhook delivery of its own (a resend,
    #: a test event) committed; events of the flows wait for the worker's next poll.
    notify_webhooks: Callable[[], None] = field(default=lambda: None)
    #: Called after a transaction that queued a background job committed (jobs/worker.py).
    notify_jobs: Callable[[], None] = field(default=lambda: None)
    #: Tells the other server processes of a change they must apply at once (changes.py).
    changes: ChangeFeed = field(default_factory=LocalFeed)
