"""The keys that sign ID tokens: ES256 (P-256), made on first use, rotated on demand.

Private keys are stored encrypted with AES-256-GCM under a key derived (HKDF-SHA256)
from ``settings.secret_key``; the key id is the associated data, so a ciphertext moved
to another row does not decrypt. (AES-GCM straight from ``cryptography`` rather than a
JWE: one primitive, no format to parse, and the same library joserfc signs with.)

Which keys are published at ``/.well-known/jwks.json``: every key not retired, so
tokens signed just before a rotation still verify; retire a key once its last token has
expired. Which key signs: the newest that has been published for ``PUBLISH_AHEAD``, so
that before any process signs with a new key, every process publishes it and every
relying party's cached copy of the JWKS has expired (a token whose ``kid`` is in nobody's
copy would fail to verify). A key too young for that signs only when no older key is left
(a fresh install; an old key retired at once after a rotation, when it leaked).

Across processes: a rotation or a retirement tells every process (``changes.py``), which
re-reads the table at once; without that (SQLite) each re-reads it within
``CACHE_SECONDS``, which ``PUBLISH_AHEAD`` covers.

Creating the first key is race-safe across processes: the key id of generation *n* is a
keyed hash of *n*, every process inserts generation 1 with ``ON CONFLICT DO NOTHING``,
and all of them re-read the one row that won.
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from widget_server.changes import ChangeFeed, LocalFeed
from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.models import SigningKey
from widget_server.secrets_ import keyed_hash
from widget_server.settings import Settings

ALG = "ES256"
#: How long a process trusts its copy of the key table, should no process tell it of a
#: change (``changes.py``).
CACHE_SECONDS = 60.0
#: How long a new key is published before it signs: this process cache's lifetime plus
#: the JWKS response's ``max-age`` (300 s, web/oauth/tokens.py) relying parties keep it for.
PUBLISH_AHEAD = timedelta(seconds=CACHE_SECONDS + 300)
TOPIC = "keys"
_FORMAT = "v1"


class KeyServices(Protocol):
    """What the key ring needs (``Services`` has it; so does the CLI's small bundle)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def clock(self) -> Clock: ...


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    key: ECKey


def _aead(secret_key: str) -> AESGCM:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"widget-server signing keys v1"
    ).derive(secret_key.encode())
    return AESGCM(derived)


def encrypt_private(secret_key: str, kid: str, pem: bytes) -> str:
    nonce = os.urandom(12)
    sealed = _aead(secret_key).encrypt(nonce, pem, kid.encode())
    return f"{_FORMAT}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def decrypt_private(secret_key: str, kid: str, stored: str) -> bytes:
    version, _, body = stored.partition(".")
    if version != _FORMAT:
        raise ValueError(f"unknown signing-key format {version!r}")
    raw = base64.urlsafe_b64decode(body)
    return _aead(secret_key).decrypt(raw[:12], raw[12:], kid.encode())


def kid_for(secret_key: str, generation: int) -> str:
    return keyed_hash(secret_key, "signing-key", str(generation))[:16]


def signing_key(rows: list[SigningKey], now: datetime) -> tuple[SigningKey, datetime | None]:
    """Of the published keys (newest first): the one that signs at ``now``, and when a
    younger one takes over from it (None: none will)."""
    takes_over = None
    for row in rows:
        ready = row.created_at + PUBLISH_AHEAD
        if ready <= now:
            return row, takes_over
        takes_over = ready
    # Only young keys: the oldest of them, the one published longest.
    return rows[-1], None if len(rows) == 1 else rows[-2].created_at + PUBLISH_AHEAD


class KeyRing:
    """The signing keys as one process sees them, cached for ``CACHE_SECONDS``."""

    def __init__(self, services: KeyServices, feed: ChangeFeed | None = None) -> None:
        self._services = services
        #: (monotonic expiry, the moment a younger key takes over or None, the key)
        self._active: tuple[float, datetime | None, ActiveKey] | None = None
        self._public: tuple[float, list[dict[str, Any]]] | None = None
        self._feed = feed or LocalFeed()
        self._feed.subscribe(self._changed)

    async def active(self) -> ActiveKey:
        now = self._services.clock.now()
        cached = self._active
        fresh = cached is not None and cached[0] > time.monotonic()
        if cached is not None and fresh and (cached[1] is None or now < cached[1]):
            return cached[2]
        rows = await self._published()
        if not rows:
            await self._create(generation=1)
            rows = await self._published()
            assert rows, "generation 1 exists once the insert ran"
        row, takes_over = signing_key(rows, now)
        pem = decrypt_private(self._services.settings.secret_key, row.kid, row.private_key)
        active = ActiveKey(kid=row.kid, key=ECKey.import_key(pem))
        self._active = (time.monotonic() + CACHE_SECONDS, takes_over, active)
        return active

    async def public_keys(self) -> list[dict[str, Any]]:
        """Every published JWK (private parts never leave the table)."""
        if self._public is not None and self._public[0] > time.monotonic():
            return self._public[1]
        await self.active()  # a fresh install publishes its first key before first use
        async with self._services.db.read() as session:
            rows = (
                await session.execute(
                    select(SigningKey.public_jwk)
                    .where(SigningKey.retired_at.is_(None))
                    .order_by(SigningKey.created_at.desc(), SigningKey.kid)
                )
            ).scalars()
            keys = [dict(jwk) for jwk in rows]
        self._public = (time.monotonic() + CACHE_SECONDS, keys)
        return keys

    async def key_set(self) -> KeySet:
        return KeySet.import_key_set({"keys": await self.public_keys()})

    async def rotate(self) -> str:
        """Make a new key the signing key; older ones stay published until retired."""
        async with self._services.db.read() as session:
            count = int(await session.scalar(select(func.count()).select_from(SigningKey)) or 0)
        kid = await self._create(generation=count + 1)
        self._changed_here()
        return kid

    async def retire(self, kid: str, now: datetime) -> bool:
        """Stop publishing ``kid`` (tokens it signed no longer verify). The newest key
        cannot be retired: rotate first. Retiring the key that signs hands signing to the
        next one at once (a leaked key must not wait for ``PUBLISH_AHEAD``)."""
        rows = await self._published()
        if not rows or kid == rows[0].kid:
            return False
        async with self._services.db.write() as session:
            result = await session.execute(
                update(SigningKey)
                .where(SigningKey.kid == kid, SigningKey.retired_at.is_(None))
                .values(retired_at=now)
            )
        self._changed_here()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def listing(self) -> list[SigningKey]:
        """Every key, newest first (for operators: which is active, which are retired)."""
        async with self._services.db.read() as session:
            rows = await session.execute(
                select(SigningKey).order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
            )
            return list(rows.scalars())

    def forget(self) -> None:
        self._active = None
        self._public = None

    def _changed_here(self) -> None:
        self.forget()
        self._feed.publish(TOPIC)

    def _changed(self, topic: str | None) -> None:
        if topic is None or topic == TOPIC:
            self.forget()

    async def _published(self) -> list[SigningKey]:
        """The keys not retired, newest first."""
        async with self._services.db.read() as session:
            result = await session.execute(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.created_at.desc(), SigningKey.kid.desc())
            )
            return list(result.scalars())

    async def _create(self, generation: int) -> str:
        secret_key = self._services.settings.secret_key
        kid = kid_for(secret_key, generation)
        key = ECKey.generate_key("P-256")
        public = key.as_dict(private=False) | {"kid": kid, "use": "sig", "alg": ALG}
        row = {
            "kid": kid,
            "alg": ALG,
            "private_key": encrypt_private(secret_key, kid, key.as_pem(private=True)),
            "public_jwk": public,
            "created_at": self._services.clock.now(),
            "retired_at": None,
        }
        async with self._services.db.write() as session:
            # A concurrent first use inserted the same generation: its key wins, ours is dropped.
            assert session.bind is not None
            insert = (
                postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
            )
            await session.execute(
                insert(SigningKey).values(**row).on_conflict_do_nothing(index_elements=["kid"])
            )
        return kid
