"""``/developers/embed-log``: the origins refused lately per pool of the developer, with
counts, and a one-click "allow this origin" for an app in scope that signs in to the
pool (through ``admin.apps.update_app``: the same checks, audit and error ids)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from litestar import get, post

from widget_server.admin.apps import AppDetail, AppPatch, get_app, list_apps, update_app
from widget_server.developers import embed_log
from widget_server.developers.embed_log import EmbedLog
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.messages import Msg, msg
from widget_server.web.developers.frame import BASE, DevPortal, form_of, signed_in
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.forms import by_field, text
from widget_server.web.shared.security import normalise_origin


def _log(portal: DevPortal) -> EmbedLog:
    found: EmbedLog = portal.request.app.state.embed_log
    return found


async def _page(portal: DevPortal, alerts: Sequence[Msg] = (), *, status: int = 200) -> Any:
    services = portal.services
    # What this process counted since its last write shows at once.
    await _log(portal).flush(services.db, services.clock.now())
    pools = {p.id: p for p in portal.pools}
    refusals = await embed_log.refusals(services.db, list(pools))
    apps = [a for a in await list_apps(services, portal.actor) if a.revoked_at is None]
    return portal.page(
        "embed_log.html",
        status=status,
        refusals=refusals,
        pools=pools,
        apps_for={p: [a for a in apps if p in a.pool_ids] for p in pools},
        alerts=alerts,
        title="Embed log",
    )


@get(BASE + "/embed-log")
async def embed_log_page(request: AnyRequest) -> Any:
    return await _page(await signed_in(request))


@post(BASE + "/embed-log/allow", status_code=200)
async def allow_origin(request: AnyRequest) -> Any:
    """Add a refused origin to an app's allowed origins."""
    portal = await signed_in(request)
    form = await form_of(portal)
    pool_id, app_id = text(form, "pool_id"), text(form, "app_id")
    origin = normalise_origin(text(form, "origin"))
    if origin is None:
        return await _page(portal, (msg("embed_log.origin_invalid"),), status=422)
    app = await get_app(portal.services, portal.actor, app_id)  # 404 outside the scope
    if pool_id not in app.pool_ids or pool_id not in {p.id for p in portal.pools}:
        raise NotFound("pool")
    try:
        await _allow(portal, app, origin)
    except InvalidInput as exc:
        return await _page(portal, _all(exc), status=422)
    except Conflict as exc:
        return await _page(portal, (exc.message,), status=409)
    await embed_log.forget(portal.services.db, pool_id, origin)
    done = msg("embed_log.allowed", "info", origin=origin, app=app.name)
    return await _page(portal, (done,))


async def _allow(portal: DevPortal, app: AppDetail, origin: str) -> None:
    if origin in app.allowed_origins:
        return
    patch = AppPatch(allowed_origins=[*app.allowed_origins, origin])
    await update_app(portal.services, portal.actor, app.id, patch)


def _all(exc: InvalidInput) -> tuple[Msg, ...]:
    fields, alerts = by_field(exc)
    return alerts + tuple(m for ms in fields.values() for m in ms)


HANDLERS = [embed_log_page, allow_origin]
