"""The webhook SMS provider against a real HTTP receiver on 127.0.0.1 (uvicorn serving
widget_server/sms/receiver.py), alone and through the outbox: signature, retries with
the outbox's backoff, nothing lost while the receiver is down, texts scrubbed after."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Iterator

import msgspec
import pytest
from sqlalchemy import select

from tests.conftest import Harness
from tests.sms.helpers import SECRET, free_port, sms_harness
from widget_server.clock import ManualClock
from widget_server.mail.outbox import NO_SMS_PROVIDER, SCRUBBED, enqueue_email
from widget_server.mail.senders import Envelope, MemorySender
from widget_server.models import OutboxMessage
from widget_server.settings import Settings
from widget_server.sms import SmsMessage, provider_from_settings
from widget_server.sms.receiver import ReceiverServer, SmsReceiver
from widget_server.sms.webhook import SIGNATURE_HEADER, WebhookSms

PHONE = "+4915123456789"


@pytest.fixture
def server() -> Iterator[ReceiverServer]:
    running = ReceiverServer(SmsReceiver(SECRET), free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def webhook(server: ReceiverServer) -> WebhookSms:
    return WebhookSms(url=server.url, secret=SECRET, sender="ACME", timeout=2.0)


@pytest.fixture
async def harness(
    settings: Settings, clock: ManualClock, sender: MemorySender, webhook: WebhookSms
) -> AsyncIterator[Harness]:
    async with sms_harness(settings, clock, sender, webhook) as h:
        await h.outbox.stop()  # the tests deliver themselves
        yield h


async def test_each_text_is_posted_as_signed_json(server: ReceiverServer) -> None:
    seen: list[tuple[bytes, str]] = []

    class Recording(SmsReceiver):
        def _handle(self, scope: dict[str, object], body: bytes) -> int:  # type: ignore[override]
            headers = dict(scope["headers"])  # type: ignore[call-overload]
            seen.append((body, headers[SIGNATURE_HEADER.lower().encode()].decode()))
            return super()._handle(scope, body)

    server.stop()
    server.receiver = Recording(SECRET)
    server.start()
    texts = [SmsMessage(id=str(i), to=PHONE, body=f"{i}23456 is your code") for i in range(3)]
    results = await WebhookSms(url=server.url, secret=SECRET, sender="ACME").send_batch(texts)

    assert results == [None, None, None]
    assert sorted(t.id for t in server.receiver.received) == ["0", "1", "2"]
    body, signature = seen[0]
    assert msgspec.json.decode(body).keys() == {"id", "to", "body", "from"}
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"


async def test_a_wrong_secret_is_refused_and_counts_as_a_failure(server: ReceiverServer) -> None:
    wrong = WebhookSms(url=server.url, secret="not-the-secret")
    [result] = await wrong.send_batch([SmsMessage(id="1", to=PHONE, body="x")])
    assert result == "SMS webhook answered HTTP 401"
    assert (server.receiver.refused_signatures, server.receiver.received) == (1, [])


async def test_a_slow_receiver_times_out(server: ReceiverServer) -> None:
    server.receiver.delay = 1.0
    slow = WebhookSms(url=server.url, secret=SECRET, timeout=0.2)
    [result] = await slow.send_batch([SmsMessage(id="1", to=PHONE, body="x")])
    assert result is not None and "Timeout" in result


async def _queue_text(h: Harness, body: str = "123456 is your Partner 1 code.") -> None:
    async with h.web.services.db.write() as session:
        text = Envelope(recipient=PHONE, subject="SMS", body_text=body)
        assert await enqueue_email(session, h.clock, text, per_hour=5, channel="sms")


async def _row(h: Harness) -> OutboxMessage:
    async with h.web.services.db.read() as session:
        return (await session.execute(select(OutboxMessage))).scalar_one()


async def test_a_500_is_retried_with_the_outbox_backoff(
    harness: Harness, server: ReceiverServer
) -> None:
    server.receiver.answers = [500]
    await _queue_text(harness)

    assert await harness.outbox.deliver_due() == 1
    row = await _row(harness)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        1,
        "SMS webhook answered HTTP 500",
    )
    assert await harness.outbox.deliver_due() == 0  # not due before its backoff
    harness.clock.advance(5)
    assert await harness.outbox.deliver_due() == 1

    row = await _row(harness)
    assert (row.status, row.attempts, row.channel) == ("sent", 2, "sms")
    assert (row.subject, row.body_text) == (SCRUBBED, "")  # the code does not outlive it
    [text] = server.receiver.to(PHONE)
    assert text.body == "123456 is your Partner 1 code." and text.sender == "ACME"


async def test_nothing_is_lost_while_the_receiver_is_down(
    harness: Harness, server: ReceiverServer
) -> None:
    server.stop()
    await _queue_text(harness)
    for minutes in range(3):
        harness.clock.advance(60 * minutes)
        await harness.outbox.deliver_due()
    row = await _row(harness)
    assert row.status == "pending" and row.attempts == 3
    assert row.last_error is not None and "ConnectError" in row.last_error

    server.start()
    harness.clock.advance(300)
    assert await harness.outbox.deliver_due() == 1
    assert (await _row(harness)).status == "sent"
    assert len(server.receiver.to(PHONE)) == 1


async def test_emails_and_texts_in_one_batch_go_their_own_ways(
    harness: Harness, server: ReceiverServer
) -> None:
    await _queue_text(harness)
    async with harness.web.services.db.write() as session:
        mail = Envelope(recipient="ada@example.com", subject="Hello", body_text="Hi")
        await enqueue_email(session, harness.clock, mail, per_hour=5)
    server.receiver.answers = [503]

    assert await harness.outbox.deliver_due() == 2
    assert [e.recipient for e in harness.sender.sent] == ["ada@example.com"]
    async with harness.web.services.db.read() as session:
        rows = {r.channel: r for r in (await session.execute(select(OutboxMessage))).scalars()}
    assert (rows["email"].status, rows["sms"].status) == ("sent", "pending")


async def test_the_hourly_limit_counts_texts_to_a_number(harness: Harness) -> None:
    for _ in range(5):
        await _queue_text(harness)
    async with harness.web.services.db.write() as session:
        text = Envelope(recipient=PHONE, subject="SMS", body_text="one too many")
        assert not await enqueue_email(session, harness.clock, text, per_hour=5, channel="sms")


async def test_without_a_provider_texts_wait_in_the_outbox(
    settings: Settings, clock: ManualClock, sender: MemorySender
) -> None:
    async with sms_harness(settings, clock, sender, None) as h:  # type: ignore[arg-type]
        await h.outbox.stop()
        await _queue_text(h)
        await h.outbox.deliver_due()
        row = await _row(h)
        assert (row.status, row.last_error, row.body_text) == (
            "pending",
            NO_SMS_PROVIDER,
            "123456 is your Partner 1 code.",
        )


def test_provider_settings() -> None:
    assert provider_from_settings(Settings()) is None
    webhook = Settings(
        sms_provider="webhook", sms_webhook_url="http://127.0.0.1:9/sms", sms_webhook_secret="s3"
    )
    assert isinstance(provider_from_settings(webhook), WebhookSms)
    assert "s3" not in repr(webhook)  # the secret is masked
    with pytest.raises(ValueError, match="URL and a secret"):
        provider_from_settings(Settings(sms_provider="webhook", sms_webhook_url="http://x"))
    with pytest.raises(ValueError, match="DEV_MAILBOX_DIR"):
        provider_from_settings(Settings(sms_provider="devmailbox"))
    with pytest.raises(ValueError, match="must be one of"):
        provider_from_settings(Settings(sms_provider="carrier-pigeon"))
    env = {"WIDGET_SMS_PROVIDER": "webhook", "WIDGET_SMS_WEBHOOK_TIMEOUT_SECONDS": "2.5"}
    assert Settings.from_env(env).sms_webhook_timeout_seconds == 2.5
