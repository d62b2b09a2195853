"""The developer portal's pages: sign-in, the overview of one's pools and apps, the apps
(register, rotate the secret, revoke), the snippet generator and the reference.

Apps go through ``admin.apps`` like the operator portal and the API (same checks, audit
and error ids), within the developer's scope.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.apps import (
    AppDetail,
    NewApp,
    SecretRotation,
    create_app,
    list_apps,
    revoke_app,
    rotate_secret,
)
from widget_server.admin.portal_auth import (
    end_session,
    start_session,
)
from widget_server.developers.reference import build_reference
from widget_server.developers.snippets import FLOWS, FRAMEWORKS, Snippet, generate, parse_request
from widget_server.errors import (
    Conflict,
    InvalidInput,
)
from widget_server.messages import Msg, msg
from widget_server.oidc.scopes import SCOPES
from widget_server.oidc.tokens import issuer
from widget_server.web.developers.frame import (
    BASE,
    COOKIE,
    DevPortal,
    form_of,
    session_cookie,
    signed_in,
)
from widget_server.web.shared.console import AnyRequest, html, see_other, sign_in
from widget_server.web.shared.context import web_context
from widget_server.web.shared.forms import (
    Errors,
    app_form,
    blank_app,
    by_field,
    convert,
    rotation_form,
)
from widget_server.webhooks.events import event_schemas

AppId = Annotated[str, PathParameter(max_length=64)]
Choice = Annotated[str | None, QueryParameter(max_length=64)]
GRANTABLE = tuple(s for s in SCOPES if s != "openid")


# --- signing in ----------------------------------------------------------------------------


def _login_page(
    request: AnyRequest, *, email: str = "", alert: Msg | None = None, status: int = 200
) -> Any:
    body = web_context(request).renderer.page(
        "admin/login.html",
        email=email,
        alert=alert,
        notice=msg("admin.signed_out", "info") if request.query_params.get("done") else None,
        next=BASE,
        t=lambda m: m.text(),
        me=None,
        console=CONSOLE,
    )
    headers = {"retry-after": str(alert.params["seconds"])} if status == 429 and alert else {}
    return html(body, status, headers)


#: What the shared sign-in page says in the developer portal.
CONSOLE = {
    "base": BASE,
    "name": "Developers",
    "audience": "For partner developers: your apps, snippets and webhooks.",
}


@get(BASE + "/login")
async def login_form(request: AnyRequest) -> Any:
    return _login_page(request)


@post(BASE + "/login", status_code=200)
async def login(request: AnyRequest) -> Any:
    attempt = await sign_in(request)
    if attempt.principal is None:
        return _login_page(
            request, email=attempt.email, alert=attempt.alert, status=attempt.status
        )
    token = await start_session(web_context(request).services, attempt.principal)
    return see_other(BASE, cookies=[session_cookie(token, max_age=None)])


@post(BASE + "/logout", status_code=200)
async def logout(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    await end_session(portal.services, request.cookies.get(COOKIE))
    return see_other(BASE + "/login?done=1", cookies=[session_cookie("", max_age=0)])


# --- overview ---------------------------------------------------------------------------


@get(BASE)
async def overview(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    apps = await list_apps(portal.services, portal.actor)
    return portal.page(
        "overview.html",
        apps=apps,
        issuer=issuer(portal.services),
        title="Overview",
    )


# --- apps ---------------------------------------------------------------------------------


async def _apps_page(
    portal: DevPortal,
    values: Mapping[str, Any],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    *,
    secret: tuple[AppDetail, str] | None = None,
    status: int = 200,
) -> Any:
    return portal.page(
        "apps.html",
        status=status,
        apps=await list_apps(portal.services, portal.actor),
        pools={p.id: p.name for p in portal.pools},
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
    return await _apps_page(await signed_in(request), blank_app())


@post(BASE + "/apps", status_code=200)
async def create_app_submit(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    values, data = app_form(form)
    errors: Errors = {}
    try:
        created = await create_app(portal.services, portal.actor, convert(data, NewApp, errors))
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return await _apps_page(portal, values, fields, alerts, status=422)
    secret = (created.app, created.client_secret) if created.client_secret else None
    alerts = (msg("admin.saved", "info"),)
    return await _apps_page(portal, blank_app(), alerts=alerts, secret=secret)


@post(BASE + "/apps/{app_id:str}/rotate-secret", status_code=200)
async def rotate_secret_submit(request: AnyRequest, app_id: AppId) -> Any:
    portal = await signed_in(request)
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
    portal = await signed_in(request)
    await form_of(portal)
    await revoke_app(portal.services, portal.actor, app_id)
    return await _apps_page(portal, blank_app(), alerts=(msg("admin.saved", "info"),))


# --- snippets -----------------------------------------------------------------------------


@get(BASE + "/snippets")
async def snippets_page(
    request: AnyRequest,
    pool: Choice = None,
    flow: Choice = None,
    app: Choice = None,
    framework: Choice = None,
    color_scheme: Choice = None,
) -> Any:
    """The generator: the choices as a GET form (a shareable URL), the snippet beside it,
    redrawn by htmx as the choices change."""
    portal = await signed_in(request)
    apps = [a for a in await list_apps(portal.services, portal.actor) if a.revoked_at is None]
    pool_ids = [p.id for p in portal.pools]
    chosen = {
        "pool": pool if pool in pool_ids else (pool_ids[0] if pool_ids else ""),
        "flow": flow if flow in FLOWS else "register",
        "app": app if app in {a.id for a in apps} else "",
        "framework": framework if framework in FRAMEWORKS else "html-script",
        "color_scheme": color_scheme if color_scheme in ("light", "dark") else "auto",
    }
    snippet, problems = _snippet(portal, chosen, apps)
    return portal.page(
        "snippets.html",
        fragment="_snippet.html",
        apps=apps,
        flows=FLOWS,
        frameworks=FRAMEWORKS,
        chosen=chosen,
        snippet=snippet,
        problems=problems,
        title="Snippets",
    )


def _snippet(
    portal: DevPortal, chosen: Mapping[str, str], apps: Sequence[AppDetail]
) -> tuple[Snippet | None, tuple[Msg, ...]]:
    if not chosen["pool"]:
        return None, (msg("snippet.no_pool", "info"),)
    app = next((a for a in apps if a.id == chosen["app"]), None)
    raw = {
        "public_url": issuer(portal.services),
        "pool_id": chosen["pool"],
        "flow": chosen["flow"],
        "framework": chosen["framework"],
        "color_scheme": chosen["color_scheme"],
    }
    if app is not None:
        raw |= {"client_id": app.id, "app_kind": app.kind}
    try:
        return generate(parse_request(raw)), ()
    except InvalidInput as exc:
        return None, tuple(m for ms in exc.messages.values() for m in ms)


# --- reference ------------------------------------------------------------------------------


@get(BASE + "/reference")
async def reference_page(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    reference = build_reference(webhook_schemas=event_schemas())
    return portal.page("reference.html", reference=reference, title="Reference")


HANDLERS = [
    login_form,
    login,
    logout,
    overview,
    apps_page,
    create_app_submit,
    rotate_secret_submit,
    revoke_app_submit,
    snippets_page,
    reference_page,
]
