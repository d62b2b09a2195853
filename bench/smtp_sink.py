"""The benchmark's stand-in for a remote mail server, run as its own process.

Started by bench/registration.py so that mail delivery is real load for the server but
the sink's CPU is not counted as load-generator CPU. Stops on SIGTERM/SIGINT.

    python bench/smtp_sink.py MAILDIR PORT [--devsink]

By default it is a minimal asyncio SMTP responder: it speaks real SMTP (greeting, EHLO
with PIPELINING and 8BITMIME, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT),
answers a pipelined group in one write, as production MTAs do, and appends every
message to MAILDIR/bench.mbox (one write per message, "From " lines quoted as in mboxrd).
It exists because the aiosmtpd-based dev sink (``widget_server.mail.devsink.SmtpSink``,
``--devsink``, which files a Maildir) costs ~0.9 ms of CPU per message on the machine
the bench measures, as much as the server's own delivery; a file per message alone
cost the minimal sink 0.4-1.3 ms per message there. The sink stands in for a remote
mail server, so its CPU is not the server's: the bench prints it separately.
It accepts every message: it measures delivery, it does not check mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import cast

from widget_server.mail.devsink import SmtpSink

_LEADING_DOT = re.compile(rb"(?m)^\.")  # RFC 5321 4.5.2: the client doubled it
_FROM_LINE = re.compile(rb"(?m)^(>*From )")  # mboxrd: quote "From " at a line start
MAX_BUFFER = 16 << 20  # a local bench never sends this much in one message
MBOX = "bench.mbox"
SEPARATOR = b"From bench-sink "


class Mbox:
    """Appends messages to one file, each in a single unbuffered write."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(directory / MBOX, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._stamp = time.asctime().encode()

    def add(self, content: bytes) -> None:
        body = _FROM_LINE.sub(rb">\1", content)
        os.write(self._fd, b"%s%s\n%s\n" % (SEPARATOR, self._stamp, body.replace(b"\r\n", b"\n")))


def count(directory: Path) -> int:
    """Messages in MAILDIR: the mbox of this sink plus the Maildir of ``--devsink``."""
    total = 0
    with contextlib.suppress(FileNotFoundError), open(directory / MBOX, "rb") as f:
        for line in f:
            total += line.startswith(SEPARATOR)
    for sub in ("new", "cur"):
        with contextlib.suppress(FileNotFoundError):
            total += len(os.listdir(directory / sub))
    return total


class Session(asyncio.Protocol):
    """One SMTP connection. Replies to all complete commands of a read go out in one write."""

    def __init__(self, box: Mbox) -> None:
        self._box = box
        self._buffer = bytearray()
        self._in_data = False
        self._recipients = 0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(b"220 bench-sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buffer += data
        if len(self._buffer) > MAX_BUFFER:
            self._transport.write(b"552 too much\r\n")
            self._transport.close()
            return
        replies: list[bytes] = []
        closing = False
        while not closing:
            if self._in_data:
                reply = self._take_message()
            else:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    break
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                reply = self._command(line)
                closing = reply.startswith(b"221")
            if reply is None:
                break
            replies.append(reply)
        if replies:
            self._transport.write(b"".join(replies))
        if closing:
            self._transport.close()

    def _take_message(self) -> bytes | None:
        # The content starts right after DATA; CRLF.CRLF ends it (".\r\n" alone if empty).
        if self._buffer.startswith(b".\r\n"):
            content, rest = b"", 3
        else:
            end = self._buffer.find(b"\r\n.\r\n")
            if end < 0:
                return None
            content, rest = bytes(self._buffer[: end + 2]), end + 5
        del self._buffer[:rest]
        self._in_data = False
        self._recipients = 0
        self._box.add(_LEADING_DOT.sub(b"", content))
        return b"250 accepted\r\n"

    def _command(self, line: bytes) -> bytes:
        verb = line[:4].upper()
        if verb == b"EHLO":
            return b"250-bench-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        if verb == b"HELO":
            return b"250 bench-sink\r\n"
        if verb == b"MAIL":
            self._recipients = 0
            return b"250 ok\r\n"
        if verb == b"RCPT":
            self._recipients += 1
            return b"250 ok\r\n"
        if verb == b"DATA":
            if not self._recipients:
                return b"554 no valid recipients\r\n"
            self._in_data = True
            return b"354 end with <CRLF>.<CRLF>\r\n"
        if verb in (b"RSET", b"NOOP"):
            self._recipients = 0
            return b"250 ok\r\n"
        if verb == b"QUIT":
            return b"221 bye\r\n"
        return b"502 not implemented\r\n"


async def serve(directory: Path, port: int) -> None:
    box = Mbox(directory)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = await loop.create_server(lambda: Session(box), "127.0.0.1", port)
    print("ready", flush=True)
    # Bounded even if nobody signals us: the bench never runs for an hour.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), 3600)
    server.close()


def run_devsink(directory: Path, port: int) -> None:
    sink = SmtpSink(directory, host="127.0.0.1", port=port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sink.start()
    print("ready", flush=True)
    stop.wait(timeout=3600)
    sink.stop()


def main() -> None:
    directory, port = Path(sys.argv[1]), int(sys.argv[2])
    if "--devsink" in sys.argv[3:]:
        run_devsink(directory, port)
    else:
        try:
            import uvloop
        except ImportError:
            asyncio.run(serve(directory, port))
        else:
            uvloop.run(serve(directory, port))


if __name__ == "__main__":
    main()
