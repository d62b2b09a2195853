"""Tenant page (tenant admins only): partner apps, the OAuth / OpenID Connect clients.

Register (a confidential app's secret is shown once, in the answer to the POST: never in a
URL, and the page is ``no-store``), rotate a secret, revoke. Everything goes through
``admin.apps`` like the API, so checks, audit and error ids are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter

from widget_server.admin.apps import (
    AppDetail,
    NewApp,
    SecretRotation,
    create_app,
    list_apps,
    revoke_app,
    rotate_secret,
)
from widget_server.errors import Conflict, Forbidden, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.oidc.scopes import SCOPES
from widget_server.oidc.tokens import issuer
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.forms import (
    Errors,
    app_form,
    blank_app,
    by_field,
    convert,
    rotation_form,
)
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

AppId = Annotated[str, PathParameter(max_length=64)]
#: Scopes an operator grants an app (``openid`` is implied).
GRANTABLE = tuple(s for s in SCOPES if s != "openid")


async def _operator(request: AnyRequest) -> Portal:
    portal = await signed_in(request)
    if not portal.is_tenant_admin:
        raise Forbidden("apps.read")
    return portal


async def _apps_page(
    portal: Portal,
    values: Mapping[str, Any],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    *,
    secret: tuple[AppDetail, str] | None = None,
    status: int = 200,
) -> Any:
    apps = await list_apps(portal.services, portal.actor)
    return portal.page(
        "apps.html",
        status=status,
        apps=apps,
        pools={p.id: p.name for p in portal.nav_pools},
        scopes=GRANTABLE,
        values=values,
        errors=errors or {},
        alerts=alerts,
        secret=secret,
        issuer=issuer(portal.services),
        now=portal.services.clock.now(),
        title="Apps",
    )


@get(BASE + "/apps")
async def apps_page(request: AnyRequest) -> Any:
    portal = await _operator(request)
    return await _apps_page(portal, blank_app())


@post(BASE + "/apps", status_code=200)
async def create_app_submit(request: AnyRequest) -> Any:
    portal = await _operator(request)
    form = await form_of(portal)
    values, data = app_form(form)
    errors: Errors = {}
    try:
        created = await create_app(portal.services, portal.actor, convert(data, NewApp, errors))
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return await _apps_page(portal, values, fields, alerts, status=422)
    alerts = (msg("admin.saved", "info"),)
    secret = (created.app, created.client_secret) if created.client_secret else None
    return await _apps_page(portal, blank_app(), alerts=alerts, secret=secret)


@post(BASE + "/apps/{app_id:str}/rotate-secret", status_code=200)
async def rotate_secret_submit(request: AnyRequest, app_id: AppId) -> Any:
    portal = await _operator(request)
    form = await form_of(portal)
    try:
        rotation = convert(rotation_form(form), SecretRotation, {})
        rotated = await rotate_secret(portal.services, portal.actor, app_id, rotation)
    except Conflict as exc:
        return await _apps_page(portal, blank_app(), alerts=(exc.message,), status=409)
    except InvalidInput as exc:
        return await _apps_page(portal, blank_app(), alerts=by_field(exc)[1], status=422)
    assert rotated.client_secret is not None  # confidential apps only
    return await _apps_page(portal, blank_app(), secret=(rotated.app, rotated.client_secret))


@post(BASE + "/apps/{app_id:str}/revoke", status_code=200)
async def revoke_app_submit(request: AnyRequest, app_id: AppId) -> Any:
    portal = await _operator(request)
    await form_of(portal)
    await revoke_app(portal.services, portal.actor, app_id)
    return await _apps_page(portal, blank_app(), alerts=(msg("admin.admin_revoked", "info"),))


HANDLERS = [apps_page, create_app_submit, rotate_secret_submit, revoke_app_submit]
