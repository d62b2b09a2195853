"""How an email leaves the building. ``Sender`` is the seam; SMTP is the real one."""

from __future__ import annotations

from collections.abc import Sequence
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
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

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[str | None]:
        """Send each; return, per envelope, None or why it failed (retried later)."""
        ...


async def send_each(sender: Sender, envelopes: Sequence[Envelope]) -> list[str | None]:
    errors: list[str | None] = []
    for envelope in envelopes:
        try:
            await sender.send(envelope)
            errors.append(None)
        except DeliveryError as exc:
            errors.append(str(exc))
    return errors


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
        local_hostname: str = "localhost",
    ) -> None:
        self._host, self._port, self._from = host, port, mail_from
        self._username, self._password = username or None, password or None
        self._starttls, self._timeout = starttls, timeout
        self._local_hostname = local_hostname

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout,
            # Otherwise aiosmtplib resolves our FQDN (a blocking DNS lookup) per connection.
            local_hostname=self._local_hostname,
        )

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[str | None]:
        """One connection for the whole batch: a new SMTP session per message costs
        more CPU than the message itself. A refusal fails only its own message; a lost
        connection fails the messages not yet handed over, never those already accepted."""
        errors: list[str | None] = []
        try:
            async with self._client() as client:
                for envelope in envelopes:
                    errors.append(await self._send_on(client, envelope))
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            errors += [reason] * (len(envelopes) - len(errors))
        return errors

    async def _send_on(self, client: aiosmtplib.SMTP, envelope: Envelope) -> str | None:
        try:
            await client.send_message(self._message(envelope))
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            # 4xx and 5xx alike are retried by the outbox, with backoff, up to its limit.
            return f"{type(exc).__name__}: {exc}"
        return None

    def _message(self, envelope: Envelope) -> Message:
        # The compat32 MIME classes: EmailMessage's header registry cost more CPU than
        # the SMTP exchange itself in a registration burst.
        message: Message = MIMEText(envelope.body_text, "plain", "utf-8")
        if envelope.body_html:
            message = MIMEMultipart("alternative")
            message.attach(MIMEText(envelope.body_text, "plain", "utf-8"))
            message.attach(MIMEText(envelope.body_html, "html", "utf-8"))
        message["From"] = self._from
        message["To"] = envelope.recipient
        message["Subject"] = str(Header(envelope.subject, "utf-8"))
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="widget-server.local")
        return message

    async def send(self, envelope: Envelope) -> None:
        [error] = await self.send_many([envelope])
        if error is not None:
            raise DeliveryError(error)


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

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[str | None]:
        return await send_each(self, envelopes)
