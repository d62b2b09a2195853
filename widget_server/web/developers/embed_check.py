"""``/developers/test-embed``: what a partner page on a given origin needs to embed a
pool's widget, checked from the live configuration: is the origin allowed (for the pool,
for the app), is the page same-site with the widget (then its cookies work in every
browser) or cross-site (then login and account depend on the browser's storage rules),
and the Content-Security-Policy lines the page needs. The page says what it cannot check
from our origin."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import msgspec
from litestar import get
from litestar.params import QueryParameter

from widget_server.admin.apps import AppDetail, list_apps
from widget_server.developers.snippets import FLOWS, Snippet, generate, parse_request
from widget_server.errors import InvalidInput
from widget_server.messages import msg
from widget_server.oidc.tokens import issuer
from widget_server.web.developers.frame import BASE, DevPortal, signed_in
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.security import normalise_origin

Choice = Annotated[str | None, QueryParameter(max_length=255)]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    origin: str
    pool_allows: bool
    #: None without an app.
    app_allows: bool | None
    same_site: bool
    #: Where the fallback popup would open the flow (a top-level visit).
    popup_url: str
    snippet: Snippet | None


def site_of(host: str) -> str:
    """The registrable domain, approximately: the last two labels (``localhost`` and IP
    addresses are their own site). Without the public suffix list a host under a
    two-label suffix (``example.co.uk``) may read as same-site when it is not; the page
    says so."""
    if host.replace(".", "").isdigit() or "." not in host:
        return host
    return ".".join(host.split(".")[-2:])


def _report(
    portal: DevPortal, origin: str, pool_id: str, flow: str, app: AppDetail | None
) -> Report:
    pool = next(p for p in portal.pools if p.id == pool_id)
    base = issuer(portal.services)
    ours = urlsplit(base)
    theirs = urlsplit(origin)
    same_site = theirs.scheme == ours.scheme and site_of(theirs.hostname or "") == site_of(
        ours.hostname or ""
    )
    raw: dict[str, Any] = {
        "public_url": base,
        "pool_id": pool_id,
        "flow": flow,
        "framework": "html-script",
    }
    if app is not None:
        raw |= {"client_id": app.id, "app_kind": app.kind}
    try:
        snippet: Snippet | None = generate(parse_request(raw))
    except InvalidInput:
        snippet = None
    popup = f"{base}/embed/{quote(pool_id)}/{quote(flow)}?parent_origin={quote(origin, safe='')}"
    return Report(
        origin=origin,
        pool_allows=pool.allows_origin(origin),
        app_allows=None if app is None else origin in app.allowed_origins,
        same_site=same_site,
        popup_url=popup,
        snippet=snippet,
    )


@get(BASE + "/test-embed")
async def test_embed_page(
    request: AnyRequest,
    origin: Choice = None,
    pool: Choice = None,
    flow: Choice = None,
    app: Choice = None,
) -> Any:
    portal = await signed_in(request)
    apps = [a for a in await list_apps(portal.services, portal.actor) if a.revoked_at is None]
    pool_ids = [p.id for p in portal.pools]
    chosen = {
        "origin": origin or "",
        "pool": pool if pool in pool_ids else (pool_ids[0] if pool_ids else ""),
        "flow": flow if flow in FLOWS else "register",
        "app": app if app in {a.id for a in apps} else "",
    }
    normalised = normalise_origin(origin)
    report = None
    if normalised is not None and chosen["pool"]:
        picked = next((a for a in apps if a.id == chosen["app"]), None)
        report = _report(portal, normalised, chosen["pool"], chosen["flow"], picked)
    return portal.page(
        "test_embed.html",
        apps=apps,
        flows=FLOWS,
        chosen=chosen,
        report=report,
        origin_invalid=bool(origin) and normalised is None,
        origin_problem=msg("embed_log.origin_invalid"),
        title="Test an embed",
    )


HANDLERS = [test_embed_page]
