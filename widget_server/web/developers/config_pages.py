"""``/developers/config``: the developer's apps and webhook endpoints as one JSON file:
download it; paste a file to see what importing it would change (nothing is changed
yet), then apply it. Secrets of what the import creates are shown once, in the answer
to the POST (never in a URL; the page is ``no-store``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import Response, get, post

from widget_server.developers import config
from widget_server.developers.config import Applied, Plan
from widget_server.errors import Conflict, InvalidInput
from widget_server.messages import Msg
from widget_server.web.developers.frame import BASE, DevPortal, form_of, signed_in
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.forms import by_field, text


def _page(
    portal: DevPortal,
    *,
    file: str = "",
    plan: Plan | None = None,
    applied: Applied | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    return portal.page(
        "config.html",
        status=status,
        file=file,
        plan=plan,
        applied=applied,
        alerts=alerts,
        title="Configuration as code",
    )


@get(BASE + "/config")
async def config_page(request: AnyRequest) -> Any:
    return _page(await signed_in(request))


@get(BASE + "/config/export")
async def export_file(request: AnyRequest) -> Response[bytes]:
    portal = await signed_in(request)
    document = await config.export_config(portal.services, portal.actor)
    return Response(
        config.encode(document),
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="widget-server-config.json"',
            "cache-control": "no-store",
        },
    )


@post(BASE + "/config/plan", status_code=200)
async def plan_submit(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    raw = text(await form_of(portal), "file")
    try:
        planned = await config.plan(portal.services, portal.actor, config.decode(raw))
    except InvalidInput as exc:
        return _page(portal, file=raw, alerts=_messages(exc), status=422)
    return _page(portal, file=raw, plan=planned)


@post(BASE + "/config/apply", status_code=200)
async def apply_submit(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    raw = text(await form_of(portal), "file")
    try:
        applied = await config.apply(portal.services, portal.actor, config.decode(raw))
    except InvalidInput as exc:
        return _page(portal, file=raw, alerts=_messages(exc), status=422)
    except Conflict as exc:
        return _page(portal, file=raw, alerts=(exc.message,), status=409)
    return _page(portal, applied=applied)


def _messages(exc: InvalidInput) -> tuple[Msg, ...]:
    fields, alerts = by_field(exc)
    return alerts + tuple(m for ms in fields.values() for m in ms)


HANDLERS = [config_page, export_file, plan_submit, apply_submit]
