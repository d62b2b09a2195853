"""How an email leaves the building. ``Sender`` is the seam; SMTP is the real one."""

from __future__ import annotations

import re
import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from email.utils import parseaddr
from typing import Protocol

import anyio.to_thread
import msgspec

from widget_server.mail.mime import render_message


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

    async def aclose(self) -> None:
        """Let go of any connection kept between batches."""
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
    """SMTP with the standard library's client, one worker-thread hop per batch.

    Measured in a registration burst: aiosmtplib cost ~0.85 ms of event-loop CPU per
    message (a future and a socket write per command); ``smtplib`` in a thread costs a
    fraction of that and none of it on the event loop.

    Each message is MAIL, RCPT and DATA in lock-step through ``smtplib``'s own command
    methods (``mail``, ``rcpt``, ``data``, ``rset``), which quote, dot-stuff and read
    the replies. It used to pipeline them (RFC 2920) through ``send``/``getreply``,
    which ``smtplib`` does not document; against bench/smtp_sink.py on loopback the
    lock-step costs ~0.06 ms more client CPU a message (0.08-0.09 → 0.14-0.15 ms, in
    the outbox worker's thread, not the event loop; a registration's server CPU is
    ~30 ms) and two more round trips a message. The connection is kept for the next batch for
    ``keep_seconds`` and checked with RSET before it is used again, as Postfix's
    connection cache does: a burst then pays for one TCP and SMTP greeting, not one per
    batch.
    """

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
        keep_seconds: float = 30.0,
    ) -> None:
        self._host, self._port, self._from = host, port, mail_from
        self._return_path = parseaddr(mail_from)[1]
        self._username, self._password = username or None, password or None
        self._starttls, self._timeout = starttls, timeout
        # Otherwise smtplib resolves our FQDN (a blocking DNS lookup) per connection.
        self._local_hostname = local_hostname
        # Servers drop an idle client after 5 minutes at the earliest (RFC 5321
        # 4.5.3.2.7); well inside that, a kept connection is nearly always still there.
        self._keep_seconds = keep_seconds
        self._idle: tuple[smtplib.SMTP, float] | None = None
        self._idle_lock = threading.Lock()

    async def send_many(self, envelopes: Sequence[Envelope]) -> list[str | None]:
        """One connection for the whole batch: a new SMTP session per message costs
        more CPU than the message itself. A refusal fails only its own message; a lost
        connection fails the messages not yet handed over, never those already accepted."""
        return await anyio.to_thread.run_sync(self._send_batch, list(envelopes))

    async def send(self, envelope: Envelope) -> None:
        [error] = await self.send_many([envelope])
        if error is not None:
            raise DeliveryError(error)

    async def aclose(self) -> None:
        """Say QUIT on the kept connection, if any."""
        await anyio.to_thread.run_sync(self._close_idle)

    def _send_batch(self, envelopes: list[Envelope]) -> list[str | None]:
        errors: list[str | None] = []
        client = None
        try:
            client = self._reused() or self._connect()
            for envelope in envelopes:
                errors.append(self._transaction(client, envelope))
        except (smtplib.SMTPException, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            errors += [reason] * (len(envelopes) - len(errors))
            if client is not None:
                client.close()
            return errors
        self._keep(client)
        return errors

    def _reused(self) -> smtplib.SMTP | None:
        """The kept connection if it is fresh and answers RSET; None otherwise."""
        with self._idle_lock:
            kept, self._idle = self._idle, None
        if kept is None:
            return None
        client, since = kept
        if time.monotonic() - since > self._keep_seconds:
            _quit(client)
            return None
        try:
            code, _ = client.rset()
        except (smtplib.SMTPException, OSError):
            client.close()
            return None
        if code != 250:
            _quit(client)
            return None
        return client

    def _keep(self, client: smtplib.SMTP) -> None:
        with self._idle_lock:
            spare, self._idle = self._idle, (client, time.monotonic())
        if spare is not None:  # another batch kept one meanwhile
            _quit(spare[0])

    def _close_idle(self) -> None:
        with self._idle_lock:
            kept, self._idle = self._idle, None
        if kept is not None:
            _quit(kept[0])

    def _connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP(
            self._host, self._port, local_hostname=self._local_hostname, timeout=self._timeout
        )
        try:
            client.ehlo_or_helo_if_needed()
            if self._starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if self._username and self._password:
                client.login(self._username, self._password)
        except BaseException:
            client.close()
            raise
        return client

    def _transaction(self, client: smtplib.SMTP, envelope: Envelope) -> str | None:
        """Send one message; return None or why the server refused it. Connection
        errors propagate: they end the batch."""
        recipient = envelope.recipient
        if any(c in recipient for c in "\r\n<>") or any(c in self._return_path for c in "\r\n<>"):
            # Checked by the forms already; here because a CR/LF would inject commands.
            return f"unsendable address: {recipient!r}"
        options: list[str] = []
        if not (recipient.isascii() and self._return_path.isascii()):
            if not client.has_extn("smtputf8"):
                return "SMTPNotSupportedError: the server does not offer SMTPUTF8"
            options.append("SMTPUTF8")
        code, text = client.mail(self._return_path, options)
        if not 200 <= code < 300:
            return _abandon(client, "MAIL FROM", code, text)
        code, text = client.rcpt(recipient)
        if not 200 <= code < 300:
            return _abandon(client, "RCPT TO", code, text)
        try:
            # data() sends DATA, then the content with its dots doubled and the final dot.
            code, text = client.data(_crlf(render_message(envelope, self._from)))
        except smtplib.SMTPDataError as refused:  # DATA itself refused (no 354)
            return _abandon(client, "DATA", refused.smtp_code, refused.smtp_error)
        return None if 200 <= code < 300 else _refusal("end of data", code, text)


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _abandon(client: smtplib.SMTP, step: str, code: int, text: bytes | str) -> str:
    """End a transaction the server refused a step of; return why. A refused step leaves
    a half-open transaction: the next message starts afresh."""
    client.rset()
    return _refusal(step, code, text)


_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")


def _crlf(message: bytes) -> bytes:
    """CRLF line ends, as SMTP wants them (``data`` doubles leading dots and ends it)."""
    return _LINE_END.sub(b"\r\n", message)


def _refusal(step: str, code: int, text: bytes | str) -> str:
    # 4xx and 5xx alike are retried by the outbox, with backoff, up to its limit.
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"SMTP {code} at {step}: {said}"


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

    async def aclose(self) -> None:
        return None
