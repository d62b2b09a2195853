"""Endpoint signing secrets at rest: AES-256-GCM under a key derived (HKDF-SHA256) from
``settings.secret_key``, the endpoint id as associated data, so a ciphertext copied to
another endpoint's row does not decrypt. The worker needs the secret itself to sign
(an HMAC key cannot be stored as a hash), so a database dump alone must not reveal it.
Same construction as the ID-token signing keys (``oidc.keys``), with its own key."""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT = "v1"


@lru_cache(maxsize=4)
def _aead(secret_key: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"widget-server webhook secrets v1"
    ).derive(secret_key.encode())
    return AESGCM(derived)


def seal(secret_key: str, endpoint_id: str, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = _aead(secret_key).encrypt(nonce, secret.encode(), endpoint_id.encode())
    return f"{_FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(secret_key: str, endpoint_id: str, stored: str) -> str:
    version, _, body = stored.partition(".")
    if version != _FORMAT:
        raise ValueError(f"unknown webhook secret format {version!r}")
    raw = base64.urlsafe_b64decode(body)
    return _aead(secret_key).decrypt(raw[:12], raw[12:], endpoint_id.encode()).decode()
