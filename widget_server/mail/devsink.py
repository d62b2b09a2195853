"""The dev mailbox: a real SMTP server (aiosmtpd) that files every message in a Maildir,
and a reader for the /dev/mailbox page. The demo starts it so that a newcomer can finish
a registration without any mail setup; end-to-end tests start their own.

Texts (SMS) from ``widget_server.sms.devmailbox`` land in the same Maildir, marked with
an ``X-Widget-Channel: sms`` header; entries carry their ``channel``.
"""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope

_CODE = re.compile(r"\b(\d{6})\b")


class MailboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    recipient: str
    subject: str
    received_at: datetime
    body: str
    code: str | None
    #: "email", or "sms" for a text filed by the dev mailbox SMS provider.
    channel: str = "email"


class MaildirHandler:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # Maildir(create=True) only makes cur/new/tmp for a folder it creates itself.
        for sub in ("cur", "new", "tmp"):
            (directory / sub).mkdir(exist_ok=True)
        self._box = mailbox.Maildir(directory, create=False)

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self._box.add(content)
        return "250 Message accepted for delivery"


class SmtpSink:
    """An SMTP server on a local port, filing mail into ``directory``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.directory = directory
        self._controller = Controller(MaildirHandler(directory), hostname=host, port=port)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def read_mailbox(directory: Path, limit: int = 50) -> list[MailboxEntry]:
    """Newest first."""
    if not directory.is_dir():
        return []
    box = mailbox.Maildir(directory, create=False)
    entries = [_entry(key, box.get_bytes(key)) for key in box.iterkeys()]
    entries.sort(key=lambda e: e.received_at, reverse=True)
    return entries[:limit]


def _entry(key: str, raw: bytes) -> MailboxEntry:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    part = parsed.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    date = parsed["Date"]
    received = parsedate_to_datetime(date) if date else datetime.now(UTC)
    found = _CODE.search(body)
    return MailboxEntry(
        key=key,
        recipient=str(parsed["To"] or ""),
        subject=str(parsed["Subject"] or ""),
        received_at=received,
        body=body,
        code=found.group(1) if found else None,
        channel="sms" if parsed["X-Widget-Channel"] == "sms" else "email",
    )
