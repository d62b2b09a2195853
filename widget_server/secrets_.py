"""Random identifiers, one-time codes, and the keyed hashes we store instead of them.

Codes have only 10^6 values, so a plain SHA-256 of one is reversed instantly; an HMAC
under the server key, bound to purpose and flow, is useless to whoever reads the table
and cannot be replayed for another purpose or another flow.

Ids, tokens and codes are bytes of the OS CSPRNG (``os.urandom``), fetched 4 KiB at a
time rather than 16 or 24 bytes per call: a registration asks for seven values, and each
``os.urandom`` call releases the GIL, handing it to whichever thread waits (the database
writer, mail delivery) and waiting to get it back. Each byte is handed out once; a forked
child starts with an empty buffer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from functools import lru_cache

CODE_DIGITS = 6
_CODES = 10**CODE_DIGITS
#: The largest multiple of 10^6 below 2^32: 4-byte draws at or above it are redrawn, so
#: every code is equally likely.
_CODE_LIMIT = (2**32 // _CODES) * _CODES
_REFILL = 4096


class _RandomBytes:
    """``os.urandom`` output handed out in pieces, each byte once, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer = b""
        self._used = 0

    def take(self, n: int) -> bytes:
        if n > _REFILL:
            return os.urandom(n)
        with self._lock:
            end = self._used + n
            if end > len(self._buffer):
                self._buffer, self._used, end = os.urandom(_REFILL), 0, n
            piece = self._buffer[self._used : end]
            self._used = end
        return piece

    def forget(self) -> None:
        """In a forked child: the parent's unused bytes are the parent's."""
        self._lock = threading.Lock()
        self._buffer, self._used = b"", 0


_random = _RandomBytes()
os.register_at_fork(after_in_child=_random.forget)


def new_id() -> str:
    """A random (version 4) UUID in its usual text form."""
    raw = bytearray(_random.take(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_token(nbytes: int = 24) -> str:
    """``nbytes`` from the OS CSPRNG, URL-safe base64 without padding (as
    ``secrets.token_urlsafe``); the default 24 bytes are 192 bits in 32 characters."""
    return base64.urlsafe_b64encode(_random.take(nbytes)).rstrip(b"=").decode()


def new_code() -> str:
    """Six digits, each of the 10^6 codes equally likely."""
    while True:
        value = int.from_bytes(_random.take(4), "big")
        if value < _CODE_LIMIT:
            return f"{value % _CODES:0{CODE_DIGITS}d}"


def keyed_hash(key: str, *parts: str) -> str:
    """HMAC-SHA256 under ``key`` of ``parts`` joined by the unit separator, in hex."""
    mac = _keyed(key).copy()
    mac.update("\x1f".join(parts).encode())
    return mac.hexdigest()


@lru_cache(maxsize=8)
def _keyed(key: str) -> hmac.HMAC:
    """An HMAC with ``key`` and nothing hashed yet, copied for each message: a copy costs
    two thirds of a new HMAC (key padding and both inner hashes are done once), and a
    form GET and POST make six of them. Never updated itself, so threads may share it."""
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


def matches(expected_hash: str, key: str, *parts: str) -> bool:
    # Constant-time so the comparison leaks nothing about how many characters matched.
    return hmac.compare_digest(expected_hash, keyed_hash(key, *parts))


def hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
