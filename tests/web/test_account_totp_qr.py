"""The TOTP enrolment's QR code: the page's inline SVG, read back module by module, is the
``otpauth://`` URI of the seed shown as text beside it; a QR decoder reads it too."""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

import pytest
import segno
from sqlalchemy import update

from tests.auth.people import Person, make_user
from tests.conftest import Harness
from tests.web.account_client import AccountClient
from widget_server.models import Pool

SVG = re.compile(
    r'<div class="ws-qr" role="img" aria-label="([^"]*)" data-totp-qr>(<svg .*?</svg>)</div>', re.S
)


async def enrolment_page(harness: Harness) -> tuple[str, str]:
    """The account page right after "Set up an authenticator app", and its page's CSP."""
    async with harness.web.services.db.write() as db:
        await db.execute(
            update(Pool)
            .where(Pool.id == "partner-1")
            .values(mfa="optional", version=Pool.version + 1)
        )
    harness.web.services.pools.forget("partner-1")
    ada: Person = await make_user(harness)
    account = AccountClient(harness)
    await account.sign_in(ada.email, ada.password)
    page = await account.post("mfa/totp")
    assert page.status == 200 and account.last is not None
    return page.text, account.last.headers["content-security-policy"]


def modules(svg: str) -> list[list[bool]]:
    """The QR matrix the SVG draws, quiet zone included: each dark run is a one-unit-wide
    horizontal stroke at y + 0.5 (segno's path form), read as the browser would draw it."""
    root = ET.fromstring(svg)
    _, _, width, height = (int(v) for v in root.attrib["viewBox"].split())
    grid = [[False] * width for _ in range(height)]
    [dark] = [p for p in root.iter() if p.tag.endswith("path") and "stroke" in p.attrib]
    x = y = 0.0
    for op, args in re.findall(r"([MmHh])([-\d. ]+)", dark.attrib["d"].replace("h", " h")):
        numbers = [float(n) for n in args.split()]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            run = numbers[0] if op == "h" else numbers[0] - x
            for column in range(int(x), int(x + run)):
                grid[int(y)][column] = True
            x += run
    return grid


def otpauth_uri(text: str) -> str:
    found = re.search(r'href="(otpauth://[^"]+)" data-totp-uri', text)
    assert found is not None
    return html.unescape(found.group(1))


async def test_enrolment_shows_a_qr_code_of_the_uri_and_still_the_text_key(
    harness: Harness,
) -> None:
    text, csp = await enrolment_page(harness)
    found = SVG.search(text)
    assert found is not None, "no QR code on the enrolment page"
    label, svg = found.groups()
    assert label == "QR code for your authenticator app"
    uri = otpauth_uri(text)
    shown = re.search(r"data-totp-secret>([A-Z2-7 ]+)<", text)
    assert shown is not None and "secret=" + shown.group(1).replace(" ", "") in uri
    # Read back, the drawing is exactly segno's encoding of the URI with a 4-module border.
    expected = segno.make_qr(uri, error="m")
    assert modules(svg) == [[bool(m) for m in row] for row in expected.matrix_iter(border=4)]
    # Nothing the CSP would block or that could carry script: no style, no URL, no script.
    assert "'unsafe-inline'" not in csp
    for forbidden in ("style", "<script", "href", "url(", "data:", "on"):
        assert forbidden not in re.sub(r'd="[^"]*"', "", svg).replace("viewBox", "")
    assert 'fill="#fff"' in svg and 'stroke="#111"' in svg  # dark on light, in any theme


async def test_a_qr_decoder_reads_the_otpauth_uri_off_the_page(harness: Harness) -> None:
    try:
        from pyzbar import pyzbar
    except ImportError as missing:  # libzbar0 is a system library (scripts/test installs it)
        pytest.skip(f"no QR decoder here: {missing}")
    text, _ = await enrolment_page(harness)
    found = SVG.search(text)
    assert found is not None
    grid, scale = modules(found.group(2)), 6
    pixels = bytes(
        0 if dark else 255
        for row in grid
        for _ in range(scale)
        for dark in row
        for _ in range(scale)
    )
    size = len(grid) * scale
    decoded = pyzbar.decode((pixels, size, size), symbols=[pyzbar.ZBarSymbol.QRCODE])
    assert [d.data.decode() for d in decoded] == [otpauth_uri(text)]
