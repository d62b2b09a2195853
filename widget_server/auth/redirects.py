"""Where a flow may send the browser next: paths on this server, nothing else.

``Flow.oauth["continue"]`` is written by our own authorization endpoint, but it travels
through a database row and is used as a ``Location``: checked again here, so no bug or
stored value can turn the login into an open redirect. Browsers are lenient in ways that
matter: they treat ``\\`` as ``/``, drop tabs and newlines inside URLs, and read ``//host``
as another site; a percent-encoded ``/`` or ``\\`` may be decoded by a proxy on the way.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_PATH = 2048


def safe_local_path(value: object) -> str | None:
    """``value`` if it is a path on this server (``/…``), else None."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_PATH:
        return None
    # Visible ASCII only: no spaces, tabs, newlines or other controls a browser would drop
    # or a header would split on, and no backslash a browser would read as "/".
    if any(not 0x21 <= ord(c) <= 0x7E or c == "\\" for c in value):
        return None
    decoded = value
    for _ in range(3):  # undo up to three layers of percent-encoding
        decoded = unquote(decoded)
    if not decoded.startswith("/") or decoded.startswith(("//", "/\\")) or "\\" in decoded:
        return None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in decoded):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return None
    return value
