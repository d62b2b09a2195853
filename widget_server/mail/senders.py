"""How an email leaves the building. ``Sender`` is the seam; SMTP is the real one."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib
import msgspec


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    recipient: str
    subject: str
    body_text: str
    body_html: str | None = None


class DeliveryError(Exception):
    """The message could not be handed over; the outbox will try again."""


class Sender(Protocol):
    async def send(self, envelope: Envelope) -> None: ...


class SmtpSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        mail_from: str,
        username: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host, self._port, self._from = host, port, mail_from
        self._username, self._password = username or None, password or None
        self._starttls, self._timeout = starttls, timeout

    async def send(self, envelope: Envelope) -> None:
        message = EmailMessage()
        message["From"] = self._from
        message["To"] = envelope.recipient
        message["Subject"] = envelope.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="widget-server.local")
        message.set_content(envelope.body_text)
        if envelope.body_html:
            message.add_alternative(envelope.body_html, subtype="html")
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


class MemorySender:
    """Keeps what it was asked to send; for tests."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []
        self.fail_next = 0

    async def send(self, envelope: Envelope) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise DeliveryError("simulated outage")
        self.sent.append(envelope)
