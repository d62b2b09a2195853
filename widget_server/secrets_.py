"""Random identifiers, one-time codes, and the keyed hashes we store instead of them.

Codes have only 10^6 values, so a plain SHA-256 of one is reversed instantly; an HMAC
under the server key, bound to purpose and flow, is useless to whoever reads the table
and cannot be replayed for another purpose or another flow.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

CODE_DIGITS = 6


def new_id() -> str:
    return str(uuid.uuid4())


def new_token() -> str:
    """128+ bits from the OS CSPRNG, URL-safe."""
    return secrets.token_urlsafe(24)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def keyed_hash(key: str, *parts: str) -> str:
    message = "\x1f".join(parts).encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def matches(expected_hash: str, key: str, *parts: str) -> bool:
    # Constant-time so the comparison leaks nothing about how many characters matched.
    return hmac.compare_digest(expected_hash, keyed_hash(key, *parts))


def hmac_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
