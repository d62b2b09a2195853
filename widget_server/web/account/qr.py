"""The TOTP enrolment's QR code, drawn here as inline SVG (segno), never by an image service:
the ``otpauth://`` URI carries the seed and must not leave this server."""

from __future__ import annotations

import re

import segno
from markupsafe import Markup

DARK, LIGHT = "#111111", "#ffffff"
# All that the markup may hold: a viewBox, a light square and the dark modules' path data.
SHAPE = re.compile(
    r'<svg viewBox="[0-9 ]+"><path fill="#fff" d="[Mhvz0-9 .-]+"/>'
    r'<path stroke="#111" d="[Mmh0-9 .-]+"/></svg>'
)


def qr_svg(uri: str) -> Markup:
    """``uri`` as an ``<svg>`` element: dark modules on white whatever the theme (scanners
    expect that contrast), the standard four-module quiet zone, and a ``viewBox`` instead of
    a size so that CSS scales it. Colours are SVG attributes, not inline styles, so the
    page's CSP (``style-src 'self'``) allows it. It holds no text: the element around it
    gives it its accessible name."""
    code = segno.make_qr(uri, error="m")
    svg = code.svg_inline(
        dark=DARK, light=LIGHT, border=4, omitsize=True, svgclass=None, lineclass=None
    )
    if not SHAPE.fullmatch(svg):  # a segno upgrade that writes more fails here, not in a page
        raise RuntimeError("segno's SVG has an unexpected form")
    return Markup(svg)  # noqa: S704 - checked above: numbers and two fixed colours only
