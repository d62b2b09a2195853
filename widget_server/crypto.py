"""Small secrets at rest (TOTP seeds): AES-256-GCM under a key derived from the server secret.

Each purpose gets its own key (HKDF-SHA256 with the purpose in ``info``), so a ciphertext
of one kind can never be opened as another; the row it belongs to is the associated data,
so a ciphertext copied to another row does not open either. The signing keys in
``oidc/keys.py`` use the same construction under their own ``info``; they keep their own
helper because their stored format predates this module.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT = "v1"
_NONCE = 12


@lru_cache(maxsize=16)
def _aead(secret_key: str, purpose: str) -> AESGCM:
    # Cached: HKDF per call is cheap, but the MFA step runs it on every code typed.
    info = f"widget-server {purpose} v1".encode()
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret_key.encode()
    )
    return AESGCM(derived)


def seal(secret_key: str, purpose: str, associated: str, plaintext: bytes) -> str:
    """``v1.<base64url(nonce + ciphertext + tag)>``; a fresh random nonce every time."""
    nonce = os.urandom(_NONCE)
    sealed = _aead(secret_key, purpose).encrypt(nonce, plaintext, associated.encode())
    return f"{_FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def unseal(secret_key: str, purpose: str, associated: str, stored: str) -> bytes:
    """The plaintext; ``ValueError`` for an unknown format, ``InvalidTag`` for a ciphertext
    that was altered, moved to another row, or sealed under another key."""
    version, _, body = stored.partition(".")
    if version != _FORMAT:
        raise ValueError(f"unknown sealed format {version!r}")
    raw = base64.urlsafe_b64decode(body)
    return _aead(secret_key, purpose).decrypt(raw[:_NONCE], raw[_NONCE:], associated.encode())
