"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

A secret is ``whsec_`` + base64 of 32 random bytes. Each request carries::

    webhook-id: msg_...            the same on every attempt and resend of an event
    webhook-timestamp: 1767225600  when this attempt was sent (seconds)
    webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">

During a secret rotation's grace period the header carries two signatures, separated by
a space (new secret first): a receiver that still has the old secret, or already the
new one, verifies either way.

Secrets are stored sealed (``crypto.seal``, the endpoint id as associated data): the
worker needs the secret itself to sign (an HMAC key cannot be kept as a hash), and a
copy of the database alone must not reveal it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence

from widget_server import crypto

PREFIX = "whsec_"
SECRET_BYTES = 32
_SEAL_PURPOSE = "webhook secrets"


def new_secret() -> str:
    return PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three ``webhook-*`` headers, signed with each of ``secrets``."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets
        ),
    }


def seal(secret_key: str, endpoint_id: str, secret: str) -> str:
    return crypto.seal(secret_key, _SEAL_PURPOSE, endpoint_id, secret.encode())


def unseal(secret_key: str, endpoint_id: str, stored: str) -> str:
    """``ValueError`` or ``cryptography``'s ``InvalidTag`` if it cannot be opened."""
    return crypto.unseal(secret_key, _SEAL_PURPOSE, endpoint_id, stored).decode()
