"""Which redirect URIs an app may register, and the one rule for using them: exact match.

Registration is strict (absolute ``https``; ``http`` only for a loopback host; no
fragment, no user info, no backslash, no dot segments, host in lower case) so that the
stored string is the canonical spelling. At authorization time the request's value must
equal one stored string byte for byte: no prefix, no normalisation, no wildcard. Every
open-redirect trick (``good.example.evil.com``, ``good.example@evil.com``, ``//evil``,
``/cb/../../evil``, percent-encoding, a changed port, scheme or case, a trailing dot)
is a different string, and is refused before anything is redirected.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from widget_server.web.shared.security import HOST_NAME

MAX_LENGTH = 2048
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
#: Visible ASCII only: no spaces, controls, quotes or angle brackets that would need
#: escaping when the URI is written into a Location header or a page.
_FORBIDDEN = set(' "<>\\^`{|}')


def valid_redirect_uri(value: str) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LENGTH:
        return False
    if any(ord(c) < 0x21 or ord(c) > 0x7E or c in _FORBIDDEN for c in value) or "#" in value:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    netloc_host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    if parts.scheme == "http":
        if netloc_host not in LOOPBACK_HOSTS:
            return False
    elif parts.scheme != "https" or not HOST_NAME.fullmatch(netloc_host):
        return False
    if "@" in parts.netloc or netloc_host.endswith("."):
        return False
    segments = parts.path.split("/")
    return not any(
        s in {".", ".."} or s.lower() in {"%2e", "%2e%2e", ".%2e", "%2e."} for s in segments
    )


def matches_registered(value: str | None, registered: Sequence[str]) -> bool:
    """Exact, case-sensitive string equality with one registered URI."""
    return value is not None and value in registered
