"""The files of ``static/``: read once, fingerprinted, compressed once per encoding.

A page names a file by ``asset_url(name)`` = ``/static/<content hash>/<name>``: that URL
never changes meaning, so browsers and CDNs keep it for a year (``immutable``) and a new
release is a new URL. ``/static/<name>`` without the hash is for URLs partners paste and
cannot change (``embed.js``): cached for minutes, revalidated by ETag.

Each file goes out Brotli- or gzip-compressed when the browser accepts it; the compressed
bodies are made on first request and kept (the folder is ~120 KB; Brotli at its best
quality takes ~0.1 s for htmx, once per process).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass, field
from pathlib import Path

import brotli

#: What an unversioned URL may be cached for: a partner's page picks up a new embed.js
#: within this time, and a revalidation costs one small 304.
SHORT_LIFETIME = "public, max-age=300, stale-while-revalidate=86400"
IMMUTABLE = "public, max-age=31536000, immutable"
#: Compressing is not worth the bytes below this size (headers alone are ~300 bytes).
MIN_COMPRESS = 512
ENCODINGS = ("br", "gzip")


@dataclass
class Asset:
    name: str
    body: bytes
    media_type: str
    digest: str
    _variants: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'

    def encoded(self, encoding: str) -> bytes:
        """The body in ``encoding`` (``br``, ``gzip`` or ``identity``), made once."""
        if encoding == "identity":
            return self.body
        with self._lock:
            variant = self._variants.get(encoding)
            if variant is None:
                variant = self._variants[encoding] = _compress(self.body, encoding)
            return variant


def _compress(body: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return bytes(brotli.compress(body, quality=11))
    # mtime=0: the same bytes every time, so every process sends the same gzip body.
    return gzip.compress(body, compresslevel=9, mtime=0)


class StaticFiles:
    def __init__(self, folder: Path) -> None:
        self.assets: dict[str, Asset] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                body = path.read_bytes()
                media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                if media.startswith("text/") or media.endswith("javascript"):
                    media += "; charset=utf-8"
                digest = hashlib.sha256(body).hexdigest()[:16]
                self.assets[path.name] = Asset(path.name, body, media, digest)

    def url(self, name: str) -> str:
        """The fingerprinted URL of ``name``; a ``KeyError`` for a file that is not there,
        so a template naming a missing file fails at render, in the tests."""
        return f"/static/{self.assets[name].digest}/{name}"


def choose_encoding(accept_encoding: str | None, size: int) -> str:
    """The best encoding the browser accepts (RFC 9110 §12.5.3: ``q=0`` refuses)."""
    if size < MIN_COMPRESS or not accept_encoding:
        return "identity"
    accepted: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        token, _, params = item.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        accepted[token.strip()] = quality
    for encoding in ENCODINGS:
        if accepted.get(encoding, accepted.get("*", 0.0)) > 0:
            return encoding
    return "identity"
