"""Pages around the widget: the theme stylesheet, the demo index and the dev mailbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.params import PathParameter
from sqlalchemy import select

from widget_server.errors import PoolNotFound
from widget_server.mail.devsink import read_mailbox
from widget_server.models import Pool
from widget_server.web.context import web_context
from widget_server.web.errors import not_found_page
from widget_server.web.views import html

PoolId = Annotated[str, PathParameter(max_length=64)]


@get("/embed/{pool_id:str}/theme.css")
async def theme_css(request: Request[Any, Any, Any], pool_id: PoolId) -> Response[str]:
    ctx = web_context(request)
    try:
        pool = await ctx.services.pools.get(pool_id)
    except PoolNotFound:
        return Response("", status_code=404, media_type="text/css")
    # The URL carries the pool version, so the stylesheet can be cached hard.
    return Response(
        ctx.renderer.theme_css(pool),
        media_type="text/css",
        headers={"cache-control": "public, max-age=300"},
    )


@get("/")
async def index(request: Request[Any, Any, Any]) -> Response[str]:
    ctx = web_context(request)
    async with ctx.services.db.read() as session:
        pools = (await session.execute(select(Pool).order_by(Pool.name))).scalars().all()
    body = ctx.renderer.page(
        "index.html",
        pools=pools,
        mailbox=bool(ctx.services.settings.dev_mailbox_dir),
        parent_origin=None,
        full_page=True,
    )
    return html(None, body)


@get("/dev/mailbox")
async def mailbox(request: Request[Any, Any, Any]) -> Response[str]:
    ctx = web_context(request)
    folder = ctx.services.settings.dev_mailbox_dir
    if not folder:
        return not_found_page(ctx, PoolNotFound())
    entries = read_mailbox(Path(folder))
    body = ctx.renderer.page(
        "dev/mailbox.html", entries=entries, parent_origin=None, full_page=True
    )
    return html(None, body)


@get("/healthz", media_type=MediaType.TEXT)
async def healthz() -> str:
    return "ok"
