"""The outbox: messages are rows written with the change that caused them, so a crash or
an SMTP outage delays a message but never loses it, and a rolled-back registration never
sends one.

Texts (SMS) travel the same way: rows with ``channel="sms"`` (recipient in E.164, the
text in ``body_text``) go to the ``SmsProvider``, emails to the ``Sender``; the hourly
limit per recipient, the retries and the scrubbing after delivery are the same.

A worker claims due rows by moving ``next_attempt_at`` forward with a conditional UPDATE
(a lease): any number of app processes can run workers against one database without
sending a message twice in the normal case. A process that dies holding a lease (killed
mid-round) leaves its rows to the others once the lease has run out
(``Settings.outbox_lease_seconds``); a message it had handed to the SMTP server but not
yet marked sent then goes out a second time: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any, TypeAlias, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.mail.senders import Envelope, Sender
from widget_server.models import AuthorizationCode, Flow, OutboxMessage
from widget_server.observe.logs import redact
from widget_server.observe.metrics import Metrics
from widget_server.sms.provider import SmsMessage, SmsProvider

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 12
BATCH = 50
GATHER_SECONDS = 0.1
HOUR = timedelta(hours=1)
SCRUBBED = "(delivered; content removed)"
#: How long finished rows are kept (for the hourly limit and for support questions).
KEEP_FINISHED = timedelta(days=7)
PURGE_EVERY = timedelta(minutes=10)

# Mapped classes type ``__table__`` as a FromClause; this one is a Table.
_OUTBOX: Table = cast(Table, OutboxMessage.__table__)
#: The columns ``_claim_batch`` returns: id, recipient, subject, body_text, body_html,
#: attempts, channel.
_Claimed: TypeAlias = Row[int, str, str, str, str | None, int, str]
NO_SMS_PROVIDER = "no SMS provider configured (WIDGET_SMS_PROVIDER)"


def outbox_row(envelope: Envelope, now: datetime, channel: str = "email") -> dict[str, Any]:
    """``channel="sms"``: ``envelope.recipient`` is a phone number in E.164 and
    ``body_text`` the text; the subject only labels the row."""
    return {
        "channel": channel,
        "recipient": envelope.recipient,
        "subject": envelope.subject,
        "body_text": envelope.body_text,
        "body_html": envelope.body_html,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "created_at": now,
        "sent_at": None,
    }


#: Built once with bound parameters, so SQLAlchemy compiles each once and finds it by
#: identity in its cache (building one per call cost ~0.1 ms of cache-key generation).
INSERT_OUTBOX = insert(_OUTBOX)
#: How many messages went to ``:recipient`` since ``:since`` (the per-address limit).
RECENT_TO = select(func.count()).where(
    _OUTBOX.c.recipient == bindparam("recipient"), _OUTBOX.c.created_at > bindparam("since")
)
_RECIPIENT_LOCK = select(
    func.pg_advisory_xact_lock(func.hashtext(bindparam("recipient", type_=String())))
)


def lock_recipient(dialect: str) -> Select[Any] | None:
    """On PostgreSQL, a transaction lock per ``:recipient``, so concurrent transactions
    count and insert one after another and the hourly limit holds exactly. (SQLite
    writes are serialised already.)"""
    return _RECIPIENT_LOCK if dialect == "postgresql" else None


async def enqueue_email(
    session: AsyncSession,
    clock: Clock,
    envelope: Envelope,
    per_hour: int,
    channel: str = "email",
) -> bool:
    """Queue ``envelope`` unless its address already got ``per_hour`` messages in the
    last hour; return whether it was queued."""
    now = clock.now()
    if await _recent(session, envelope.recipient, now) >= per_hour:
        log.warning("outbox: dropped a message to an address over its hourly limit")
        return False
    await session.execute(INSERT_OUTBOX, outbox_row(envelope, now, channel))
    return True


async def has_room(session: AsyncSession, clock: Clock, recipient: str, per_hour: int) -> bool:
    """Whether ``recipient`` got fewer than ``per_hour`` messages in the last hour, under
    its lock until the transaction ends (the first half of ``enqueue_email``; the second
    is ``insert_or_withhold``)."""
    return await _recent(session, recipient, clock.now()) < per_hour


async def insert_or_withhold(
    session: AsyncSession, clock: Clock, envelope: Envelope, channel: str, *, keep: bool
) -> None:
    """Insert the message inside a savepoint, and roll it back unless ``keep``: for an
    answer that must not tell an account from a stranger by its time (a recovery: an
    unknown address gets no message, ``flows/recovery.py``). The database does the
    same writes either way, and no row is left to count against a stranger's limit or
    to reach the worker; an insert that added no row, the way before, was ~0.2 ms
    cheaper on PostgreSQL, a tell with a few hundred requests (tests/web/test_timing.py).

    The transaction must have written already: on SQLite a savepoint taken outside a
    transaction begins one of its own, which its release would commit."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if getattr(driver, "in_transaction", True) is False:
        raise RuntimeError("insert_or_withhold before the transaction's first write")
    async with session.begin_nested() as savepoint:
        await session.execute(INSERT_OUTBOX, outbox_row(envelope, clock.now(), channel))
        if not keep:
            await savepoint.rollback()


async def _recent(session: AsyncSession, recipient: str, now: datetime) -> int:
    """How many messages ``recipient`` got in the last hour, under its lock."""
    lock = lock_recipient(session.bind.dialect.name if session.bind else "")
    if lock is not None:
        await session.execute(lock, {"recipient": recipient})
    since = {"recipient": recipient, "since": now - HOUR}
    return int((await session.execute(RECENT_TO, since)).scalar_one())


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 3600))


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        sender: Sender,
        clock: Clock,
        poll_seconds: float,
        sms: SmsProvider | None = None,
        lease: timedelta = LEASE,
        metrics: Metrics | None = None,
    ) -> None:
        self._db, self._sender, self._clock = db, sender, clock
        self._metrics = metrics or Metrics()
        self._sms = sms
        self._lease = lease
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
        await self._sender.aclose()

    async def _run(self) -> None:
        next_purge = self._clock.now()
        while not self._stopping:
            try:
                while await self.deliver_due() == BATCH and not self._stopping:
                    pass
                if self._clock.now() >= next_purge:
                    await self.purge()
                    next_purge = self._clock.now() + PURGE_EVERY
            except Exception:  # the worker must outlive a database hiccup
                log.exception("outbox delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
                # Woken by a request: wait a moment so a burst is sent in batches over one
                # SMTP connection, not one round (two transactions, one session) per mail.
                # Woken by stop(): go at once.
                if not self._stopping:
                    await asyncio.sleep(GATHER_SECONDS)
            self._wake.clear()

    async def purge(self) -> int:
        """Delete finished outbox rows past ``KEEP_FINISHED``, flows past their expiry by a
        day (their codes go with them) and OAuth codes likewise; return how many rows went."""
        now = self._clock.now()
        async with self._db.write() as session:
            outbox = await session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.status.in_(("sent", "failed")),
                    OutboxMessage.created_at < now - KEEP_FINISHED,
                )
            )
            flows = await session.execute(
                delete(Flow).where(Flow.expires_at < now - timedelta(days=1))
            )
            # One-time OAuth codes live 60 s; a day later they are only clutter.
            codes = await session.execute(
                delete(AuthorizationCode).where(
                    AuthorizationCode.expires_at < now - timedelta(days=1)
                )
            )
        return int(outbox.rowcount + flows.rowcount + codes.rowcount)  # type: ignore[attr-defined]

    async def deliver_due(self) -> int:
        """Claim up to ``BATCH`` due messages, send them over one connection, record the
        outcome; return how many were claimed."""
        batch = await self._claim_batch()
        if not batch:
            return 0
        emails = [r for r in batch if r.channel != "sms"]
        texts = [r for r in batch if r.channel == "sms"]
        errors = await self._sender.send_many([_envelope(r) for r in emails]) if emails else []
        if texts:
            errors += await self._send_texts(texts)
        await self._record(emails + texts, errors)
        return len(batch)

    async def _send_texts(self, rows: list[_Claimed]) -> list[str | None]:
        if self._sms is None:
            return [NO_SMS_PROVIDER] * len(rows)
        messages = [SmsMessage(id=str(r.id), to=r.recipient, body=r.body_text) for r in rows]
        return await self._sms.send_batch(messages)

    async def _claim_batch(self) -> list[_Claimed]:
        now = self._clock.now()
        params = {"now": now, "lease_until": now + self._lease}
        return await self._db.run_write(lambda c: list(c.execute(_CLAIM, params).all()))

    async def _record(self, batch: list[_Claimed], errors: list[str | None]) -> None:
        now = self._clock.now()
        sent = [row.id for row, error in zip(batch, errors, strict=True) if error is None]
        failed = [(row, error) for row, error in zip(batch, errors, strict=True) if error]
        for row, error in zip(batch, errors, strict=True):
            if error is None:
                self._metrics.outbox_sent(row.channel)
            else:
                self._metrics.outbox_failed(row.channel, final=row.attempts + 1 >= MAX_ATTEMPTS)

        def record(connection: Connection) -> None:
            if sent:
                connection.execute(_MARK_SENT, {"ids": sent, "now": now})
            for row, error in failed:
                connection.execute(
                    update(_OUTBOX)
                    .where(_OUTBOX.c.id == row.id)
                    .values(attempts=row.attempts + 1, **_failure(row, error, now))
                )

        await self._db.run_write(record)


_c = _OUTBOX.c
_DUE = (_c.status == "pending", _c.next_attempt_at <= bindparam("now"))
# Moving next_attempt_at past now is the lease: a second worker running the same
# statement (PostgreSQL re-checks the WHERE after the first commits) finds nothing due.
# Built once, like the statements above; the worker runs them in one thread hop on SQLite.
_CLAIM = (
    update(_OUTBOX)
    .where(
        _c.id.in_(select(_c.id).where(*_DUE).order_by(_c.id).limit(BATCH).scalar_subquery()),
        *_DUE,
    )
    .values(next_attempt_at=bindparam("lease_until"))
    .returning(_c.id, _c.recipient, _c.subject, _c.body_text, _c.body_html, _c.attempts, _c.channel)
)
_MARK_SENT = (
    update(_OUTBOX)
    .where(_c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status="sent",
        sent_at=bindparam("now"),
        last_error=None,
        attempts=_c.attempts + 1,
        # Codes are stored only as HMACs; the email that carried one in clear text must
        # not outlive its delivery.
        subject=SCRUBBED,
        body_text="",
        body_html=None,
    )
)


def _envelope(row: _Claimed) -> Envelope:
    return Envelope(
        recipient=row.recipient,
        subject=row.subject,
        body_text=row.body_text,
        body_html=row.body_html,
    )


def _failure(row: _Claimed, error: str, now: datetime) -> dict[str, object]:
    attempts = row.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        log.error("outbox message %s failed for good: %s", row.id, redact(error))
        return {"status": "failed", "last_error": error[:500]}
    log.warning("outbox message %s: attempt %s failed: %s", row.id, attempts, redact(error))
    return {"next_attempt_at": now + backoff(attempts), "last_error": error[:500]}
