"""The delivery worker: one per server process, started and stopped with the app.

Each round fans out new events (``fanout``), claims the deliveries that are due
(``queue``) and starts one task per delivery without waiting for it: a receiver that
hangs or answers 500 holds only its own tasks, at most ``webhook_endpoint_concurrency``
of them per endpoint in this process, while other endpoints' deliveries go on. A task
that finishes records its attempt and wakes the worker, so the next event of that user
for that endpoint follows at once.

An idle worker only reads (is there a new event, is a delivery due?): on SQLite it never
takes the write lock the registrations need unless there is work.

Stopping lets requests in flight finish for a few seconds, then cancels them; their
leases run out and a worker (this process after a restart, or another) sends them again
with the same ``webhook-id``. Receivers drop duplicates by that id: at least once, never
lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from functools import partial

from cryptography.exceptions import InvalidTag

from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.observe.metrics import Metrics
from widget_server.settings import Settings
from widget_server.webhooks import events, fanout, queue, signing
from widget_server.webhooks.http import Outcome, Sender, request_excerpt
from widget_server.webhooks.urls import Resolver, SystemResolver

log = logging.getLogger(__name__)

#: Requests in flight at once in this process, all endpoints together.
MAX_IN_FLIGHT = 100
#: Due deliveries looked at per round (a busy endpoint's are skipped in the query).
CANDIDATES = 200
PURGE_EVERY = timedelta(minutes=10)


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._db, self._clock, self._settings = db, clock, settings
        self._metrics = metrics or Metrics()
        self._sender = Sender(
            resolver or SystemResolver(),
            timeout=settings.webhook_timeout_seconds,
            allow_private=settings.webhooks_allow_private,
        )
        self._per_endpoint = max(1, settings.webhook_endpoint_concurrency)
        # Longer than any request can take, so a live worker never loses its claim.
        self._lease = timedelta(seconds=max(60.0, 3 * settings.webhook_timeout_seconds))
        self._in_flight: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Look for work now: called after a resend or a test event was committed."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the current round, give requests in flight ``timeout`` seconds, cancel
        the rest (they are sent again when their lease ends)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._sender.aclose()

    async def _run(self) -> None:
        next_purge = self._clock.now()
        poll = self._settings.webhook_poll_seconds
        while not self._stopping:
            try:
                while await self.round() and not self._stopping:
                    pass
                if self._clock.now() >= next_purge:
                    await self._db.run_write(partial(queue.purge, now=self._clock.now()))
                    next_purge = self._clock.now() + PURGE_EVERY
            except Exception:  # the worker must outlive a database hiccup
                log.exception("webhook delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)
            self._wake.clear()

    async def round(self) -> int:
        """Fan out new events, claim due deliveries and start sending them; return how
        many were claimed (their requests may still be running)."""
        if await self._db.run_read(fanout.anything_new):
            now = self._clock.now()
            while await self._db.run_write(partial(fanout.fan_out, now=now)) == fanout.BATCH:
                pass
        jobs = await self._claim()
        for job in jobs:
            self._in_flight[job.endpoint_id] = self._in_flight.get(job.endpoint_id, 0) + 1
            task = asyncio.create_task(self._deliver(job), name=f"webhook-{job.delivery_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def drain(self) -> None:
        """Run rounds until nothing is due and no request is in flight (for tests and
        the command line; the background loop never waits like this)."""
        while True:
            claimed = await self.round()
            if self._tasks:
                await asyncio.gather(*set(self._tasks))
            elif not claimed:
                return

    async def _claim(self) -> list[queue.Job]:
        room = MAX_IN_FLIGHT - sum(self._in_flight.values())
        if room <= 0:
            return []
        busy = {e for e, n in self._in_flight.items() if n >= self._per_endpoint}
        now = self._clock.now()
        found = await self._db.run_read(
            partial(queue.candidates, now=now, busy=busy, limit=CANDIDATES)
        )
        chosen: list[int] = []
        free: dict[str, int] = {}
        for delivery_id, endpoint_id in found:
            left = free.setdefault(
                endpoint_id, self._per_endpoint - self._in_flight.get(endpoint_id, 0)
            )
            if left > 0 and len(chosen) < room:
                chosen.append(delivery_id)
                free[endpoint_id] = left - 1
        if not chosen:
            return []
        return await self._db.run_write(
            partial(queue.claim, ids=chosen, now=now, lease=self._lease)
        )

    async def _deliver(self, job: queue.Job) -> None:
        try:
            body = events.body(job.type, job.created_at, job.data)
            started = self._clock.now()
            outcome = await self._send(job, body)
            self._metrics.webhook_delivery(outcome.ok)
            await self._db.run_write(
                partial(
                    queue.record,
                    job=job,
                    outcome=outcome,
                    started=started,
                    now=self._clock.now(),
                    excerpt=request_excerpt(body),
                )
            )
        except Exception:
            log.exception("webhook delivery %s could not be recorded", job.delivery_id)
        finally:
            self._in_flight[job.endpoint_id] -= 1
            if not self._in_flight[job.endpoint_id]:
                del self._in_flight[job.endpoint_id]
            self._wake.set()

    async def _send(self, job: queue.Job, body: bytes) -> Outcome:
        try:
            secrets = self._secrets(job)
        except (ValueError, InvalidTag) as error:
            log.error("webhook endpoint %s: its secret cannot be read: %s", job.endpoint_id, error)
            return Outcome(
                status_code=None,
                error="the signing secret cannot be read (was the server's secret key changed?)",
                response_excerpt=None,
                duration_ms=0,
            )
        # The real time, not the injected clock: receivers compare it with their own
        # clocks to refuse replays (Standard Webhooks allows five minutes either way).
        headers = signing.headers(secrets, job.message_id, int(time.time()), body)
        return await self._sender.post(job.url, body, headers)

    def _secrets(self, job: queue.Job) -> list[str]:
        key = self._settings.secret_key
        secrets = [signing.unseal(key, job.endpoint_id, job.secret)]
        until = job.previous_secret_until
        if job.previous_secret and until is not None and until > self._clock.now():
            secrets.append(signing.unseal(key, job.endpoint_id, job.previous_secret))
        return secrets
