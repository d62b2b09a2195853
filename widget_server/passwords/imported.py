"""Password hashes brought in by an import (users moved from another system), the way
Auth0 and Cognito migrate users: kept as they came, verified on the user's first login
in their own format, then replaced by one of ours (the login's rehash path,
``flows/login.py: _rehash``, which ``needs_rehash`` triggers).

Only self-describing formats are accepted, those whose string names the algorithm,
its parameters and salt: argon2 (``$argon2id$…``, verified by our own argon2 hasher),
bcrypt (``$2a$``/``$2b$``/``$2y$``), scrypt (``$scrypt$``, passlib's), PBKDF2
(``$pbkdf2-sha256$``, ``$pbkdf2-sha512$``, ``$pbkdf2$`` and Django's
``pbkdf2_sha256$…``). The verification comes from libpass, the maintained fork of
passlib, rather than our own code.
"""

from __future__ import annotations

from passlib.context import CryptContext

from widget_server.passwords.hashing import PasswordHasher

#: Longest hash string accepted (the longest format above is well under it).
MAX_HASH = 512
_ARGON2 = "$argon2"
#: Our names of the formats, by libpass scheme.
FORMATS = {
    "bcrypt": "bcrypt",
    "scrypt": "scrypt",
    "pbkdf2_sha256": "pbkdf2-sha256",
    "pbkdf2_sha512": "pbkdf2-sha512",
    "pbkdf2_sha1": "pbkdf2-sha1",
    "django_pbkdf2_sha256": "pbkdf2-sha256",
    "django_pbkdf2_sha1": "pbkdf2-sha1",
}
_FOREIGN = CryptContext(schemes=list(FORMATS))


def format_of(hash: str) -> str | None:
    """The format of an importable hash (``argon2``, ``bcrypt``, …), None if unknown."""
    if not hash or len(hash) > MAX_HASH or not hash.isascii():
        return None
    if hash.startswith(_ARGON2 + "id$") or hash.startswith(_ARGON2 + "i$"):
        return "argon2"
    try:
        scheme = _FOREIGN.identify(hash, required=False)
    except ValueError:
        return None
    return FORMATS.get(scheme) if isinstance(scheme, str) else None


class AcceptingImported:
    """A ``PasswordHasher`` that also verifies imported hashes. New hashes, and hashes
    in our own format, are ``inner``'s; an imported hash verifies in its format and
    always needs a rehash, so the first login replaces it with one of ours."""

    def __init__(self, inner: PasswordHasher) -> None:
        self.inner = inner

    def __repr__(self) -> str:
        return f"AcceptingImported({self.inner!r})"

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        if hash.startswith(_ARGON2):
            return self.inner.verify(hash, password)
        if format_of(hash) is None:
            return False
        try:
            return bool(_FOREIGN.verify(password, hash))
        except (ValueError, TypeError):
            # A hash that looks right but does not parse, or a password the format
            # cannot take (bcrypt's 72 bytes): "wrong password", never a crash.
            return False

    def needs_rehash(self, hash: str) -> bool:
        if hash.startswith(_ARGON2):
            return self.inner.needs_rehash(hash)
        return True
