"""What ``SmtpSender`` puts on the wire: the MIME it writes by hand parses back to the
envelope, and against a server that offers PIPELINING (as production MTAs do) a refused
command or message still fails only its own message. The aiosmtpd sink in test_smtp.py
does not pipeline, so it covers the one-command-at-a-time path."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default

import pytest

from widget_server.mail.mime import render_message
from widget_server.mail.senders import Envelope, SmtpSender

FROM = "Widget Server <no-reply@widget.test>"


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_text_and_html_parts_read_back():
    raw = render_message(
        Envelope(
            recipient="jane@example.com",
            subject="123456 is your Partner 1 verification code",
            body_text="Your code is 123456.\n.a line that starts with a dot\n",
            body_html="<p>Your code is <strong>123456</strong>.</p>",
        ),
        FROM,
    )
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    message = parse(raw)
    assert message["From"] == FROM
    assert message["To"] == "jane@example.com"
    assert message["Subject"] == "123456 is your Partner 1 verification code"
    assert message["Date"] and message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = (message.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    assert text.get_content() == "Your code is 123456.\n.a line that starts with a dot\n"
    assert html.get_content() == "<p>Your code is <strong>123456</strong>.</p>"


def test_text_only_non_ascii_and_long_subject():
    subject = "Grüße \u2013 654321 " + "lang " * 30
    raw = render_message(
        Envelope(recipient="jörg@example.com", subject=subject, body_text="Dein Code ✓"), FROM
    )
    raw.decode("ascii")  # 7-bit clean: encoded headers, base64 body
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    message = parse(raw)
    assert message.get_content_type() == "text/plain"
    assert message["Subject"] == subject
    assert message.get_content() == "Dein Code ✓"


def test_a_line_break_in_a_header_value_cannot_add_a_header():
    raw = render_message(
        Envelope(recipient="a@example.com", subject="hi\r\nBcc: evil@example.com", body_text="b"),
        FROM,
    )
    message = parse(raw)
    assert message["Bcc"] is None
    assert "evil@example.com" in message["Subject"]


# --- a scripted server that pipelines ------------------------------------------------------


@dataclass
class Script:
    """Replies of the fake server: RCPT for ``refuse_rcpt`` gets 550, the end of data of
    a message to ``busy`` gets 451. It records what it received."""

    pipelining: bool = True
    refuse_rcpt: str = "nobody@example.com"
    busy: str = "busy@example.com"
    delivered: list[tuple[str, bytes]] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)
    connections: int = 0
    #: Close each connection after this many messages (a server dropping idle clients).
    drop_after: int | None = None


async def _session(script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
    script.connections += 1
    writer.write(b"220 fake ESMTP\r\n")
    recipient, messages = "", 0
    extensions = b"250-PIPELINING\r\n" if script.pipelining else b""
    while line := await reader.readline():
        verb = line[:4].upper()
        script.commands.append(verb)
        if verb == b"EHLO":
            writer.write(b"250-fake\r\n" + extensions + b"250 8BITMIME\r\n")
        elif verb == b"RCPT":
            recipient = line.decode().partition("<")[2].partition(">")[0]
            ok = recipient != script.refuse_rcpt
            writer.write(b"250 ok\r\n" if ok else b"550 no such user\r\n")
            recipient = recipient if ok else ""
        elif verb == b"DATA":
            if not recipient:
                writer.write(b"554 no valid recipients\r\n")
                continue
            writer.write(b"354 go ahead\r\n")
            content = await reader.readuntil(b"\r\n.\r\n")
            busy = recipient == script.busy
            if not busy:
                script.delivered.append((recipient, content))
            writer.write(b"451 try later\r\n" if busy else b"250 accepted\r\n")
            messages += 1
            if script.drop_after is not None and messages >= script.drop_after:
                await writer.drain()
                break
        elif verb == b"QUIT":
            writer.write(b"221 bye\r\n")
            break
        else:  # MAIL, RSET, NOOP
            recipient = "" if verb == b"RSET" else recipient
            writer.write(b"250 ok\r\n")
        await writer.drain()
    writer.close()


@pytest.fixture(params=[True, False], ids=["pipelining", "lock-step"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Script, int]]:
    script = Script(pipelining=request.param)
    listener = await asyncio.start_server(lambda r, w: _session(script, r, w), "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield script, port


@pytest.fixture
async def sender(server: tuple[Script, int]) -> AsyncIterator[SmtpSender]:
    sender = SmtpSender(host="127.0.0.1", port=server[1], mail_from=FROM, timeout=5)
    yield sender
    await sender.aclose()


async def test_refusals_fail_only_their_own_message(server, sender):
    script, _ = server
    recipients = ["a@example.com", "nobody@example.com", "busy@example.com", "z@example.com"]
    errors = await sender.send_many(
        [Envelope(recipient=r, subject="s", body_text=".leading dot\nbody") for r in recipients]
    )
    assert errors[0] is None and errors[3] is None
    assert errors[1] is not None and "550" in errors[1]
    assert errors[2] is not None and "451" in errors[2]
    assert [r for r, _ in script.delivered] == ["a@example.com", "z@example.com"]
    for _, content in script.delivered:
        assert parse(content.removesuffix(b".\r\n").replace(b"\r\n..", b"\r\n.")).get_content() == (
            ".leading dot\nbody"
        )
    # After the refused RCPT the transaction was reset before the next MAIL.
    assert script.commands.count(b"RSET") == 1
    assert script.commands.count(b"MAIL") == 4


async def test_a_recipient_with_a_line_break_is_not_sent(server, sender):
    script, _ = server
    errors = await sender.send_many(
        [
            Envelope(
                recipient="a@example.com\r\nRCPT TO:<x@evil.test>", subject="s", body_text="b"
            ),
            Envelope(recipient="ok@example.com", subject="s", body_text="b"),
        ]
    )
    assert errors[0] is not None and errors[1] is None
    assert [r for r, _ in script.delivered] == ["ok@example.com"]
    assert script.commands.count(b"RCPT") == 1


def _batch(*recipients: str) -> list[Envelope]:
    return [Envelope(recipient=r, subject="s", body_text=f"to {r}") for r in recipients]


async def test_the_next_batch_reuses_the_connection_after_rset(server, sender):
    script, _ = server
    assert await sender.send_many(_batch("a@example.com", "b@example.com")) == [None, None]
    assert await sender.send_many(_batch("c@example.com")) == [None]
    assert script.connections == 1
    assert script.commands.count(b"EHLO") == 1
    # The kept connection was checked before its second use.
    assert script.commands.count(b"RSET") == 1
    assert [r for r, _ in script.delivered] == ["a@example.com", "b@example.com", "c@example.com"]
    await sender.aclose()
    await asyncio.sleep(0.05)
    assert script.commands[-1] == b"QUIT"


async def test_a_connection_the_server_dropped_is_replaced(server, sender):
    script, _ = server
    script.drop_after = 2
    assert await sender.send_many(_batch("a@example.com", "b@example.com")) == [None, None]
    await asyncio.sleep(0.05)  # the server has hung up meanwhile
    assert await sender.send_many(_batch("c@example.com", "d@example.com")) == [None, None]
    assert script.connections == 2
    assert [r for r, _ in script.delivered] == [f"{x}@example.com" for x in "abcd"]


async def test_a_connection_kept_too_long_is_not_reused(server):
    script, port = server
    sender = SmtpSender(host="127.0.0.1", port=port, mail_from=FROM, timeout=5, keep_seconds=0)
    try:
        assert await sender.send_many(_batch("a@example.com")) == [None]
        assert await sender.send_many(_batch("b@example.com")) == [None]
    finally:
        await sender.aclose()
    assert script.connections == 2
    assert script.commands.count(b"RSET") == 0


async def test_a_refused_last_message_after_a_good_one(server, sender):
    """The end of a batch: a refused last message after an accepted one."""
    script, _ = server
    errors = await sender.send_many(_batch("a@example.com", "busy@example.com"))
    assert errors[0] is None and errors[1] is not None and "451" in errors[1]
    errors = await sender.send_many(_batch("busy@example.com", "nobody@example.com"))
    assert errors[0] is not None and "451" in errors[0]
    assert errors[1] is not None and "550" in errors[1]
    assert [r for r, _ in script.delivered] == ["a@example.com"]
