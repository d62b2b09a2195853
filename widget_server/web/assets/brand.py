"""``/brand-assets/<sha256>``: logos, backgrounds, favicons and fonts that brand designers
uploaded, served from our own origin by content hash.

A hash names exactly one content, so the answer is cached for a year (``immutable``).
Uploads were checked by content when they were stored (``branding/assets.py``); here an
SVG still goes out under a CSP that lets it run nothing and load nothing, and every file
with ``nosniff``, so a browser never reads one as anything but its stored type.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import PathParameter

from widget_server.branding.assets import fetch_asset
from widget_server.web.shared.context import web_context
from widget_server.web.shared.static import IMMUTABLE

Sha256 = Annotated[str, PathParameter(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")]
#: An SVG opened on its own may draw and use its own inline styles, nothing else.
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@get("/brand-assets/{sha256:str}", include_in_schema=False)
async def brand_asset(request: Request[Any, Any, Any], sha256: Sha256) -> Response[bytes]:
    asset = await fetch_asset(web_context(request).services.db, sha256)
    if asset is None:
        return Response(b"not found", status_code=404, media_type="text/plain")
    headers = {
        "cache-control": IMMUTABLE,
        "etag": f'"{sha256[:32]}"',
        "x-content-type-options": "nosniff",
        # Fonts and images are requested by widget pages on other sites' frames too.
        "cross-origin-resource-policy": "cross-origin",
        "access-control-allow-origin": "*",
    }
    if asset.media_type == "image/svg+xml":
        headers["content-security-policy"] = SVG_POLICY
    return Response(asset.data, media_type=asset.media_type, headers=headers)


HANDLERS = [brand_asset]
