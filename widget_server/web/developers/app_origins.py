"""The developer portal's page for one app's embed origins: the sites that may frame the
widgets of the app's pools (and receive its login codes), checked and normalised by
``admin.apps`` exactly like everywhere else. Saving drops the pools' snapshots, so a
page on a newly allowed origin shows the widget on its next load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.apps import AppDetail, AppPatch, get_app, update_app
from widget_server.errors import Conflict, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.developers.frame import BASE, DevPortal, form_of, signed_in
from widget_server.web.shared.console import AnyRequest, see_other
from widget_server.web.shared.forms import by_field, lines, text

AppId = Annotated[str, PathParameter(max_length=64)]
PAGE = BASE + "/apps/{app_id:str}/origins"


def _page(
    portal: DevPortal,
    app: AppDetail,
    typed: str | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
) -> Any:
    return portal.page(
        "app_origins.html",
        status=status,
        app=app,
        origins=typed if typed is not None else "\n".join(app.allowed_origins),
        errors=errors or {},
        alerts=alerts,
        pools={p.id: p.name for p in portal.pools},
        title=f"{app.name}: embed origins",
    )


@get(PAGE)
async def origins_page(
    request: AnyRequest,
    app_id: AppId,
    done: Annotated[str | None, QueryParameter(max_length=16)] = None,
) -> Any:
    portal = await signed_in(request)
    app = await get_app(portal.services, portal.actor, app_id)
    alerts = (msg("admin.saved", "info"),) if done == "saved" else ()
    return _page(portal, app, alerts=alerts)


@post(PAGE, status_code=200)
async def origins_submit(request: AnyRequest, app_id: AppId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    patch = AppPatch(allowed_origins=lines(form, "allowed_origins"))
    try:
        await update_app(portal.services, portal.actor, app_id, patch)
    except (InvalidInput, Conflict) as exc:
        app = await get_app(portal.services, portal.actor, app_id)
        if isinstance(exc, Conflict):
            return _page(portal, app, alerts=(exc.message,), status=409)
        fields, alerts = by_field(exc)
        return _page(portal, app, text(form, "allowed_origins"), fields, alerts, status=422)
    return see_other(f"{BASE}/apps/{app_id}/origins?done=saved")


HANDLERS = [origins_page, origins_submit]
