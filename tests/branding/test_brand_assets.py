"""Uploads (branding/assets.py, svg.py): judged by content, never by name; stored once by
SHA-256; served by hash; SVG that could run or fetch anything refused with a reason."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from tests.branding.conftest import DESIGNER, actor, errors_of, png, services, woff2
from tests.conftest import Harness
from widget_server.branding import assets
from widget_server.branding.assets import fetch_asset, inspect_upload
from widget_server.errors import Forbidden, InvalidInput, NotFound

CLEAN_SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
    b'xmlns:xlink="http://www.w3.org/1999/xlink" width="120" height="40">'
    b'<defs><linearGradient id="g"><stop offset="0" stop-color="#b42318"/></linearGradient>'
    b'</defs><rect width="120" height="40" fill="url(#g)"/><use xlink:href="#g"/>'
    b"<style>rect { fill: url('#g') }</style></svg>"
)


def refusal(data: bytes, name: str = "file") -> tuple[str, dict[str, str | int]]:
    with pytest.raises(InvalidInput) as refused:
        inspect_upload(data, name)
    [(field, [message])] = refused.value.messages.items()
    assert field == "file"
    return message.id, message.params


def image(format: str, size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#0f766e").save(out, format=format)
    return out.getvalue()


def test_real_images_and_fonts_are_recognised_by_content() -> None:
    found = inspect_upload(png(64, 32), "logo.png")
    assert (found.kind, found.media_type, found.width, found.height) == (
        "image",
        "image/png",
        64,
        32,
    )
    assert inspect_upload(image("JPEG"), "x.jpg").media_type == "image/jpeg"
    assert inspect_upload(image("WEBP"), "x.webp").media_type == "image/webp"
    svg = inspect_upload(CLEAN_SVG, "logo.svg")
    assert (svg.media_type, svg.width, svg.height) == ("image/svg+xml", 120, 40)
    font = inspect_upload(woff2(), "brand.woff2")
    assert (font.kind, font.media_type) == ("font", "font/woff2")


def test_a_png_renamed_svg_is_a_png() -> None:
    """The name says SVG, the bytes say PNG: it is stored and served as the PNG it is."""
    found = inspect_upload(png(), "logo.svg")
    assert found.media_type == "image/png"


def svg(body: str = "", attributes: str = "", before: str = "") -> bytes:
    ns = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    return f"{before}<svg {ns} {attributes}>{body}</svg>".encode()


EVIL = "https://evil.example"


@pytest.mark.parametrize(
    ("data", "message_id"),
    [
        (svg(attributes='onload="alert(1)"'), "brand.svg_event_handler"),
        (svg('<rect ONCLICK="x()"/>'), "brand.svg_event_handler"),
        (svg("<script>alert(1)</script>"), "brand.svg_script"),
        (svg('<s:script xmlns:s="http://www.w3.org/2000/svg"/>'), "brand.svg_script"),
        (svg("<foreignObject><div/></foreignObject>"), "brand.svg_foreign_object"),
        (svg(f'<image href="{EVIL}/x.png"/>'), "brand.svg_external_reference"),
        (svg('<a xlink:href="javascript:alert(1)"/>'), "brand.svg_external_reference"),
        (svg(f'<rect style="fill:url({EVIL}/p)"/>'), "brand.svg_external_reference"),
        (svg(f'<style>@import "{EVIL}/x.css";</style>'), "brand.svg_external_reference"),
        (svg('<rect fill="url(data:image/png;base64,AA)"/>'), "brand.svg_external_reference"),
        (svg('<set attributeName="onmouseover" to="alert(1)"/>'), "brand.svg_event_handler"),
        (svg('<animate attributeName="xlink:href" to="javascript:x"/>'), "brand.svg_event_handler"),
        (svg(before=f'<?xml-stylesheet href="{EVIL}/x.css"?>'), "brand.svg_external_reference"),
        (svg("&a;", before='<!DOCTYPE svg [<!ENTITY a "aaaa">]>'), "brand.svg_doctype"),
        (svg("<rect>"), "brand.svg_invalid"),
        (b"<html><body>not an svg</body></html>", "brand.svg_invalid"),
        (b"<svg \xff\xfe/>", "brand.svg_invalid"),
    ],
)
def test_svg_that_could_run_or_fetch_is_refused(data: bytes, message_id: str) -> None:
    assert refusal(data, "logo.svg")[0] == message_id


def test_a_20_mb_image_is_refused_by_size_before_decoding() -> None:
    huge = png() + b"\x00" * (20 * 1024 * 1024)
    assert refusal(huge, "huge.png") == ("brand.asset_too_large", {"max_kb": 1024})


def test_too_many_pixels_is_refused() -> None:
    message_id, params = refusal(image("PNG", (5000, 10)), "wide.png")
    assert (message_id, params["width"], params["max"]) == ("brand.asset_dimensions", 5000, 4096)


def test_fonts_need_the_woff2_magic_and_a_consistent_header() -> None:
    assert refusal(b"OTTO" + b"\x00" * 100, "brand.woff2")[0] == "brand.font_magic"
    assert refusal(b"wOFF" + b"\x00" * 100, "brand.woff2")[0] == "brand.font_magic"
    assert refusal(woff2(200)[:150], "brand.woff2")[0] == "brand.font_corrupt"
    assert refusal(woff2(600 * 1024), "big.woff2") == ("brand.asset_too_large", {"max_kb": 500})


def test_truncated_and_unknown_files_are_refused() -> None:
    assert refusal(png()[:40], "cut.png")[0] == "brand.asset_corrupt"
    assert refusal(b"GIF89a" + b"\x00" * 40, "x.gif")[0] == "brand.asset_type"
    assert refusal(b"", "empty.png")[0] == "brand.asset_empty"


async def test_upload_stores_once_by_hash_and_serves_it(harness: Harness) -> None:
    svc = services(harness)
    data = png(40, 20)
    first = await assets.upload_asset(svc, DESIGNER, "logo.png", data)
    again = await assets.upload_asset(svc, DESIGNER, "renamed.svg", data)
    assert first.sha256 == again.sha256 == hashlib.sha256(data).hexdigest()
    assert first.url == f"/brand-assets/{first.sha256}"
    assert (first.width, first.height, first.media_type) == (40, 20, "image/png")
    assert [a.sha256 for a in await assets.list_assets(svc, DESIGNER)] == [first.sha256]
    stored = await fetch_asset(svc.db, first.sha256)
    assert stored is not None and (stored.media_type, stored.data) == ("image/png", data)
    assert await fetch_asset(svc.db, "0" * 64) is None
    assert await fetch_asset(svc.db, "not-a-hash") is None
    with pytest.raises(InvalidInput) as refused:
        await assets.upload_asset(svc, DESIGNER, "x.svg", b'<svg onload="x()"/>')
    assert errors_of(refused.value) == {"file": ["brand.svg_event_handler"]}
    await assets.delete_asset(svc, DESIGNER, first.sha256)
    assert await fetch_asset(svc.db, first.sha256) is None
    with pytest.raises(NotFound):
        await assets.delete_asset(svc, DESIGNER, first.sha256)


async def test_only_theme_editors_upload(harness: Harness) -> None:
    with pytest.raises(Forbidden):
        await assets.upload_asset(
            services(harness), actor("pool_viewer", pool_id="partner-1"), "x.png", png()
        )
