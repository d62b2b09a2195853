"""The SMS seam: what a text is, and what delivering a batch of them promises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import msgspec


class SmsMessage(msgspec.Struct, frozen=True, kw_only=True):
    #: The outbox row's id: stable across retries, so a receiver can drop duplicates.
    id: str
    #: E.164 (``widget_server.phones``).
    to: str
    body: str


class SmsProvider(Protocol):
    async def send_batch(self, messages: Sequence[SmsMessage]) -> list[str | None]:
        """Send each; return, per message, None or why it failed (the outbox retries
        it later). Must not raise for a failed message."""
        ...


class MemorySms:
    """Keeps what it was asked to send; for tests. ``fail_next`` fails that many."""

    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []
        self.fail_next = 0

    async def send_batch(self, messages: Sequence[SmsMessage]) -> list[str | None]:
        results: list[str | None] = []
        for message in messages:
            if self.fail_next:
                self.fail_next -= 1
                results.append("simulated outage")
                continue
            self.sent.append(message)
            results.append(None)
        return results

    def to(self, phone: str) -> list[SmsMessage]:
        return [m for m in self.sent if m.to == phone]
