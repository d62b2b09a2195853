"""The Content-Security-Policy sources a partner page needs for a snippet.

What each part of the embed loads, and so which directive must allow our origin:

=================  ==========================================  ===============
directive          why                                         snippets
=================  ==========================================  ===============
``script-src``     ``/static/embed.js``                        all but iframe
``frame-src``      the widget page ``/embed/{pool}/{flow}``    every frontend
``connect-src``    embed.js asks ``/embed/{pool}/frame-check``  all but iframe
=================  ==========================================  ===============

An inline ``<script>``/``<style>`` of a snippet is allowed by its exact SHA-256 (CSP
level 2 hash source): nothing else inline gets in. The strict variant replaces the
script host with a per-response nonce and ``'strict-dynamic'``, which then trusts what
a nonced script loads (embed.js loaded by the partner's bundle included); embed.js
itself needs no inline script or style (it styles through the CSSOM). Backends need no
policy: they talk to us server to server.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final, Literal

import msgspec

from widget_server.developers.values import SnippetValues

#: Stands for the partner's per-response nonce in the strict variant.
NONCE: Final = "{NONCE}"

Variant = Literal["allowlist", "strict"]

_INLINE = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)


class CspDirective(msgspec.Struct, frozen=True, kw_only=True):
    """Sources to add to one directive of the page's policy."""

    name: str
    sources: tuple[str, ...]

    @property
    def line(self) -> str:
        return " ".join((self.name, *self.sources))


class Csp(msgspec.Struct, frozen=True, kw_only=True):
    """Both ways to allow a snippet; empty for backend snippets."""

    #: Our origin by name (plus the hashes of the snippet's inline blocks).
    allowlist: tuple[CspDirective, ...] = ()
    #: Scripts by nonce and ``'strict-dynamic'``; put ``nonce="…"`` on the snippet's
    #: ``<script>``/``<style>`` tags (``NONCE`` marks where the value goes).
    strict: tuple[CspDirective, ...] = ()

    def header(self, variant: Variant = "allowlist") -> str:
        """The directives as one header value: ``script-src …; frame-src …``."""
        directives = self.allowlist if variant == "allowlist" else self.strict
        return "; ".join(d.line for d in directives)


def sha256_source(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def inline_hashes(code: str) -> dict[str, tuple[str, ...]]:
    """Hash sources of the code's inline ``<script>`` and ``<style>`` blocks by tag (a
    ``<script src>`` has attributes, so it is not matched)."""
    found: dict[str, list[str]] = {}
    for tag, body in _INLINE.findall(code):
        found.setdefault(tag, []).append(sha256_source(body))
    return {tag: tuple(hashes) for tag, hashes in found.items()}


def frontend_csp(values: SnippetValues, html: str | None, *, loads_script: bool) -> Csp:
    """The policy of a frontend snippet: ``loads_script`` when embed.js runs on the page
    (every snippet but the plain iframe); ``html`` is a snippet pasted into a page as it
    is, whose inline blocks the policy must allow (components are bundled instead)."""
    origin = values.origin
    hashes = inline_hashes(html) if html is not None else {}
    nonce = f"'nonce-{NONCE}'"
    allowlist: list[CspDirective] = []
    strict: list[CspDirective] = []
    if loads_script:
        allowlist.append(CspDirective(name="script-src",
                                      sources=(origin, *hashes.get("script", ()))))
        strict.append(CspDirective(name="script-src", sources=(nonce, "'strict-dynamic'")))
    allowlist.append(CspDirective(name="frame-src", sources=(origin,)))
    strict.append(CspDirective(name="frame-src", sources=(origin,)))
    if loads_script:
        allowlist.append(CspDirective(name="connect-src", sources=(origin,)))
        strict.append(CspDirective(name="connect-src", sources=(origin,)))
    if "style" in hashes:
        allowlist.append(CspDirective(name="style-src", sources=hashes["style"]))
        strict.append(CspDirective(name="style-src", sources=(nonce,)))
    return Csp(allowlist=tuple(allowlist), strict=tuple(strict))
