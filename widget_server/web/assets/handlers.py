"""``/static/<hash>/<name>`` (immutable) and ``/static/<name>`` (short-lived)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import PathParameter

from widget_server.web.shared.request_io import header
from widget_server.web.shared.static import (
    IMMUTABLE,
    SHORT_LIFETIME,
    Asset,
    StaticFiles,
    choose_encoding,
)

Name = Annotated[str, PathParameter(max_length=64)]
Digest = Annotated[str, PathParameter(max_length=64)]


def static_files(request: Request[Any, Any, Any]) -> StaticFiles:
    files: StaticFiles = request.app.state.static_files
    return files


@get("/static/{digest:str}/{name:str}", include_in_schema=False)
async def fingerprinted(
    request: Request[Any, Any, Any], digest: Digest, name: Name
) -> Response[bytes]:
    asset = static_files(request).assets.get(name)
    if asset is None:
        return _missing()
    # An old fingerprint (a page rendered before a release) gets today's file, briefly.
    lifetime = IMMUTABLE if digest == asset.digest else SHORT_LIFETIME
    return _send(request, asset, lifetime)


@get("/static/{name:str}", include_in_schema=False)
async def unversioned(request: Request[Any, Any, Any], name: Name) -> Response[bytes]:
    asset = static_files(request).assets.get(name)
    return _missing() if asset is None else _send(request, asset, SHORT_LIFETIME)


def _send(request: Request[Any, Any, Any], asset: Asset, lifetime: str) -> Response[bytes]:
    headers = {
        "cache-control": lifetime,
        "etag": asset.etag,
        "vary": "accept-encoding",
        # Public files: a partner page may load them with crossorigin/COEP.
        "access-control-allow-origin": "*",
        "cross-origin-resource-policy": "cross-origin",
    }
    if _matches(header(request, b"if-none-match"), asset.etag):
        return Response(b"", status_code=304, headers=headers)
    encoding = choose_encoding(header(request, b"accept-encoding"), len(asset.body))
    if encoding != "identity":
        headers["content-encoding"] = encoding
    return Response(asset.encoded(encoding), media_type=asset.media_type, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _missing() -> Response[bytes]:
    return Response(b"not found", status_code=404, media_type="text/plain")


HANDLERS = [fingerprinted, unversioned]
