"""Real SMTP: ``SmtpSender`` talks to the aiosmtpd sink the demo uses, and what arrives is
read back with ``read_mailbox``. No database needed except for the end-to-end case."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import Harness
from widget_server.mail.devsink import MaildirHandler, SmtpSink, read_mailbox
from widget_server.mail.senders import DeliveryError, Envelope, SmtpSender

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
FROM = "Widget Server <no-reply@widget.test>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SmtpSink]:
    server = SmtpSink(tmp_path / "maildir", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


_OPEN: list[SmtpSender] = []


def sender_for(port: int) -> SmtpSender:
    sender = SmtpSender(host="127.0.0.1", port=port, mail_from=FROM, timeout=5)
    _OPEN.append(sender)
    return sender


@pytest.fixture(autouse=True)
async def _close_senders() -> AsyncIterator[None]:
    """Senders keep their connection between batches; each test lets go of its own."""
    yield
    while _OPEN:
        await _OPEN.pop().aclose()


async def test_a_message_arrives_and_reads_back(sink):
    envelope = Envelope(
        recipient="jane@example.com",
        subject="123456 is your Partner 1 verification code",
        body_text="Your code is 123456. It expires in 10 minutes.",
        body_html="<p>Your code is <strong>123456</strong>.</p>",
    )
    await sender_for(sink.port).send(envelope)
    [entry] = read_mailbox(sink.directory)
    assert entry.recipient == "jane@example.com"
    assert entry.subject == envelope.subject
    assert entry.code == "123456"
    assert "expires in 10 minutes" in entry.body


async def test_a_batch_goes_over_one_connection_and_all_arrive(sink):
    envelopes = [
        Envelope(recipient=f"u{n}@example.com", subject=f"hello {n}", body_text=f"body {n}")
        for n in range(5)
    ]
    errors = await sender_for(sink.port).send_many(envelopes)
    assert errors == [None] * 5
    entries = read_mailbox(sink.directory)
    assert sorted(e.recipient for e in entries) == [f"u{n}@example.com" for n in range(5)]
    assert all(e.code is None for e in entries)


async def test_non_ascii_subject_and_body_survive(sink):
    envelope = Envelope(
        recipient="jörg@example.com", subject="Grüße \u2013 654321", body_text="Dein Code: 654321 ✓"
    )
    await sender_for(sink.port).send(envelope)
    [entry] = read_mailbox(sink.directory)
    assert entry.subject == "Grüße \u2013 654321"
    assert entry.code == "654321"
    assert "✓" in entry.body


async def test_a_closed_port_raises_delivery_error():
    sender = sender_for(free_port())
    with pytest.raises(DeliveryError):
        await sender.send(Envelope(recipient="a@example.com", subject="s", body_text="b"))
    errors = await sender.send_many(
        [Envelope(recipient=f"{n}@example.com", subject="s", body_text="b") for n in range(2)]
    )
    assert len(errors) == 2 and all(errors)


class _TempFailForOne(MaildirHandler):
    """Accepts every message except those to ``busy@``, which get a temporary 451."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if "busy@example.com" in envelope.rcpt_tos:
            return "451 Try again later"
        return await super().handle_DATA(server, session, envelope)


async def test_a_temporary_refusal_fails_only_that_message(tmp_path):
    directory = tmp_path / "maildir"
    controller = Controller(_TempFailForOne(directory), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        envelopes = [
            Envelope(recipient=r, subject="s", body_text="b")
            for r in ("first@example.com", "busy@example.com", "last@example.com")
        ]
        errors = await sender_for(int(controller.port)).send_many(envelopes)
    finally:
        controller.stop()
    delivered = sorted(e.recipient for e in read_mailbox(directory))
    # Whatever the server accepted must be reported as sent, or the outbox resends it.
    assert errors[0] is None and "first@example.com" in delivered
    assert errors[1] is not None
    assert (errors[2] is None) == ("last@example.com" in delivered)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def sender(smtp_port: int) -> SmtpSender:  # replaces the harness's MemorySender
    return sender_for(smtp_port)


async def test_registration_end_to_end_through_real_smtp(
    harness: Harness, widget, tmp_path, smtp_port
):
    directory = tmp_path / "maildir"
    server = SmtpSink(directory, port=smtp_port)
    server.start()
    try:
        await harness.outbox.stop()
        w = widget("partner-1")
        await w.open()
        page = await w.post(email="Smtp.User@Example.com", password=GOOD_PASSWORD)
        assert page.state == "code"
        assert await harness.outbox.deliver_due() == 1
    finally:
        server.stop()
    [entry] = read_mailbox(directory)
    assert entry.recipient.lower() == "smtp.user@example.com"
    assert entry.code is not None and entry.code in entry.subject
    page = await w.code(entry.code)
    assert (page.status, page.state) == (200, "done")


async def test_an_smtp_outage_is_recorded_and_the_retry_delivers(
    harness: Harness, widget, tmp_path, smtp_port, clock
):
    """Claim, send and record through the real sender: a refused connection is a failed
    attempt, and the retry after the backoff delivers the same message."""
    from sqlalchemy import select

    from widget_server.mail.outbox import backoff
    from widget_server.models import OutboxMessage

    await harness.outbox.stop()
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="outage@example.com", password=GOOD_PASSWORD)
    assert page.state == "code"
    assert await harness.outbox.deliver_due() == 1  # nothing listens on the port yet
    async with harness.web.services.db.read() as session:
        [row] = (await session.execute(select(OutboxMessage))).scalars()
    assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    directory = tmp_path / "maildir"
    server = SmtpSink(directory, port=smtp_port)
    server.start()
    try:
        clock.advance(backoff(1).total_seconds())
        assert await harness.outbox.deliver_due() == 1
    finally:
        server.stop()
    async with harness.web.services.db.read() as session:
        [row] = (await session.execute(select(OutboxMessage))).scalars()
    assert (row.status, row.attempts, row.body_text) == ("sent", 2, "")
    [entry] = read_mailbox(directory)
    assert entry.recipient == "outage@example.com" and entry.code is not None
