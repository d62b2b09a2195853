"""Static files: pages name them by content hash (cached for a year), they go out Brotli-
or gzip-compressed as the browser accepts, revalidate by ETag, and nothing outside
``static/`` is reachable."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest

from widget_server.assets import asset_dir
from widget_server.web.shared.static import IMMUTABLE, choose_encoding

STATIC = asset_dir("static")


async def _page_assets(harness) -> list[str]:
    page = await harness.client.get("/embed/partner-1/register")
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)


async def test_widget_page_names_every_asset_by_content_hash(harness):
    urls = await _page_assets(harness)
    names = {url.rsplit("/", 1)[1] for url in urls}
    assert {"widget.css", "widget.js", "htmx-2.0.11.min.js"} <= names
    for url in urls:
        assert re.fullmatch(r"/static/[0-9a-f]{16}/[a-z0-9.-]+", url), url
        response = await harness.client.get(url, headers={"accept-encoding": "identity"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.content == (STATIC / url.rsplit("/", 1)[1]).read_bytes()


@pytest.mark.parametrize(
    ("accept", "encoding", "decode"),
    [
        ("gzip, deflate, br, zstd", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip;q=0.5", "gzip", gzip.decompress),
        ("identity", None, lambda body: body),
    ],
)
async def test_compressed_as_the_browser_accepts(harness, accept, encoding, decode):
    url = next(u for u in await _page_assets(harness) if u.endswith("htmx-2.0.11.min.js"))
    # httpx would decode the body itself; read it raw to check what went over the wire.
    async with harness.client.stream("GET", url, headers={"accept-encoding": accept}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
    assert r.headers.get("content-encoding") == encoding
    assert r.headers["vary"] == "accept-encoding"
    original = (STATIC / "htmx-2.0.11.min.js").read_bytes()
    assert decode(raw) == original
    if encoding is not None:
        assert len(raw) < len(original) / 2


async def test_etag_revalidation_answers_304_without_a_body(harness):
    first = await harness.client.get("/static/embed.js")
    assert first.headers["cache-control"].startswith("public, max-age=300")
    again = await harness.client.get(
        "/static/embed.js", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_a_stale_fingerprint_gets_the_current_file_briefly(harness):
    response = await harness.client.get("/static/0000000000000000/widget.css")
    assert response.status_code == 200
    assert "immutable" not in response.headers["cache-control"]


@pytest.mark.parametrize(
    "path",
    [
        "/static/nope.js",
        "/static/0123456789abcdef/nope.js",
        "/static/..%2fpyproject.toml",
        "/static/0123456789abcdef/..%2f..%2fpyproject.toml",
    ],
)
async def test_only_files_of_the_static_folder_are_served(harness, path):
    response = await harness.client.get(path)
    assert response.status_code == 404
    assert b"[project]" not in response.content


def test_choose_encoding_reads_quality_values():
    assert choose_encoding("br, gzip", 10_000) == "br"
    assert choose_encoding("br;q=0, gzip", 10_000) == "gzip"
    assert choose_encoding("*", 10_000) == "br"
    assert choose_encoding("*;q=0", 10_000) == "identity"
    assert choose_encoding("br", 100) == "identity"  # too small to be worth it
    assert choose_encoding(None, 10_000) == "identity"


async def test_brand_assets_are_served_by_hash_with_a_locked_down_svg(harness):
    from widget_server.admin.access import Actor, Principal
    from widget_server.branding.assets import upload_asset

    operator = Actor(
        principal=Principal(
            id="op", tenant_id="acme", pool_id=None, role="tenant_admin", kind="api_key", name="op"
        )
    )
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="#123456"/></svg>'
    )
    stored = await upload_asset(harness.web.services, operator, "logo.svg", svg)
    response = await harness.client.get(f"/brand-assets/{stored.sha256}")
    assert response.status_code == 200
    assert response.content == svg
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    missing = await harness.client.get("/brand-assets/" + "0" * 64)
    assert missing.status_code == 404
    malformed = await harness.client.get("/brand-assets/../../pyproject.toml")
    assert malformed.status_code in (400, 404)
