"""Texts filed in the dev mailbox (the demo's Maildir), beside the emails, so a newcomer
can finish a phone registration without an SMS gateway. Marked ``X-Widget-Channel: sms``;
the /dev/mailbox page shows them as texts."""

from __future__ import annotations

import mailbox
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import anyio.to_thread

from widget_server.sms.provider import SmsMessage

CHANNEL_HEADER = "X-Widget-Channel"


class DevMailboxSms:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send_batch(self, messages: Sequence[SmsMessage]) -> list[str | None]:
        # Maildir writes are blocking file I/O: off the event loop, one hop per batch.
        return await anyio.to_thread.run_sync(self._file, list(messages))

    def _file(self, messages: list[SmsMessage]) -> list[str | None]:
        for sub in ("cur", "new", "tmp"):
            (self._directory / sub).mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(self._directory, create=False)
        results: list[str | None] = []
        for message in messages:
            try:
                box.add(_as_mail(message))
                results.append(None)
            except OSError as exc:
                results.append(f"dev mailbox: {exc}")
        return results


def _as_mail(message: SmsMessage) -> bytes:
    mail = EmailMessage()
    mail["To"] = message.to
    mail["Subject"] = "SMS"
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail[CHANNEL_HEADER] = "sms"
    mail.set_content(message.body)
    return bytes(mail)
