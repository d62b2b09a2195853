"""The demo's index of pools and the dev mailbox (every email the server sent, when
``dev_mailbox_dir`` is set; a 404 otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from sqlalchemy import select

from widget_server.errors import PoolNotFound
from widget_server.mail.devsink import read_mailbox
from widget_server.models import Pool
from widget_server.web.shared.context import web_context
from widget_server.web.shared.pages import not_found_page
from widget_server.web.shared.responses import html


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


HANDLERS = [index, mailbox]
