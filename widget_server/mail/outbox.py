"""The outbox: messages are rows written with the change that caused them, so a crash or
an SMTP outage delays a message but never loses it, and a rolled-back registration never
sends one.

A worker claims due rows by moving ``next_attempt_at`` forward with a conditional UPDATE
(a lease): any number of app processes can run workers against one database without
sending a message twice in the normal case.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.mail.senders import DeliveryError, Envelope, Sender
from widget_server.models import OutboxMessage

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12
BATCH = 20


def enqueue_email(session: AsyncSession, clock: Clock, envelope: Envelope) -> OutboxMessage:
    now = clock.now()
    row = OutboxMessage(
        channel="email",
        recipient=envelope.recipient,
        subject=envelope.subject,
        body_text=envelope.body_text,
        body_html=envelope.body_html,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    return row


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 3600))


class OutboxWorker:
    def __init__(self, db: Database, sender: Sender, clock: Clock, poll_seconds: float) -> None:
        self._db, self._sender, self._clock = db, sender, clock
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Deliver soon: called after a request committed a message."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let the current round finish, then stop. Cancelling mid-statement would leave
        a database connection half-closed (asyncpg then blocks pool disposal)."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                while await self.deliver_due() == BATCH and not self._stopping:
                    pass
            except Exception:  # the worker must outlive a database hiccup
                log.exception("outbox delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            self._wake.clear()

    async def deliver_due(self) -> int:
        """Try every due message once; return how many were claimed."""
        now = self._clock.now()
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.next_attempt_at)
                    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.id)
                    .limit(BATCH)
                )
            ).all()
        claimed = 0
        for message_id, due in rows:
            message = await self._claim(message_id, due)
            if message is not None:
                claimed += 1
                await self._deliver(message)
        return claimed

    async def _claim(self, message_id: int, due: object) -> OutboxMessage | None:
        async with self._db.write() as session:
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at == due,
                )
                .values(next_attempt_at=self._clock.now() + LEASE)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return await session.get(OutboxMessage, message_id)

    async def _deliver(self, message: OutboxMessage) -> None:
        envelope = Envelope(
            recipient=message.recipient,
            subject=message.subject,
            body_text=message.body_text,
            body_html=message.body_html,
        )
        error: str | None = None
        try:
            await self._sender.send(envelope)
        except DeliveryError as exc:
            error = str(exc)[:500]
        await self._record(message.id, message.attempts + 1, error)

    async def _record(self, message_id: int, attempts: int, error: str | None) -> None:
        now = self._clock.now()
        if error is None:
            values: dict[str, object] = {"status": "sent", "sent_at": now, "last_error": None}
        elif attempts >= MAX_ATTEMPTS:
            values = {"status": "failed", "last_error": error}
            log.error("outbox message %s failed for good: %s", message_id, error)
        else:
            values = {"next_attempt_at": now + backoff(attempts), "last_error": error}
            log.warning("outbox message %s: attempt %s failed: %s", message_id, attempts, error)
        async with self._db.write() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id)
                .values(attempts=attempts, **values)
            )
