"""Plain helpers shared by fixtures and tests: ports, the test mailbox, demo URLs."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from widget_server.mail.devsink import MailboxEntry, read_mailbox

MAIL_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Demo:
    """Where the running ``widget-server demo`` lives."""

    widget_origin: str  # http://localhost:A
    partner_origin: str  # http://127.0.0.1:B

    def widget_url(self, pool: str, flow: str = "register") -> str:
        return f"{self.widget_origin}/embed/{pool}/{flow}"



@dataclass(frozen=True)
class Mailbox:
    """The Maildir the in-process SMTP sink writes to."""

    directory: Path

    def messages_to(self, address: str) -> list[MailboxEntry]:
        """Newest first."""
        return [e for e in read_mailbox(self.directory, limit=10_000) if address in e.recipient]

    def wait_for(
        self, address: str, match: Callable[[MailboxEntry], bool] = lambda e: True,
        timeout: float = MAIL_TIMEOUT,
    ) -> MailboxEntry:
        """The newest message to ``address`` that ``match``es, polling until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.messages_to(address) if match(e)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                seen = [(e.recipient, e.subject) for e in read_mailbox(self.directory)]
                raise AssertionError(f"no matching mail to {address} in {timeout}s; got {seen}")
            time.sleep(0.1)

    def wait_for_code(self, address: str, timeout: float = MAIL_TIMEOUT) -> str:
        """The newest 6-digit code mailed to ``address``."""
        entry = self.wait_for(address, lambda e: e.code is not None, timeout)
        assert entry.code is not None
        return entry.code
