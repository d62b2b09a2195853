"""The browser side of OpenID Connect: the authorization endpoint, the return from the
login page, and the consent page. Decisions live in ``oidc.authorize``; this module reads
requests and draws answers.

Nothing is redirected to a client before its client id and exact redirect URI are known
(``RedirectRefused`` → an error page, 400). The consent page may be framed by nobody
(clickjacking) and its form may post only here and then go on only to the client's own
origin (``form-action``; Chromium applies it to the redirect after the POST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from litestar import Request, Response, get, post
from litestar.enums import MediaType
from markupsafe import Markup

from widget_server.auth.sessions import SessionView, current_session, read_session_token
from widget_server.errors import (
    ConsentRequired,
    CsrfMismatch,
    FlowError,
    InvalidRequest,
    LoginRequired,
    OAuthError,
    PoolNotFound,
    RedirectRefused,
)
from widget_server.messages import Msg, msg
from widget_server.oidc import authorize as oauth
from widget_server.oidc.authorize import AuthorizationRequest
from widget_server.oidc.claims import load_subject
from widget_server.oidc.clients import load_client
from widget_server.pools import PoolView
from widget_server.secrets_ import hmac_equal
from widget_server.services import Services
from widget_server.themes import resolve_theme
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.render import theme_app
from widget_server.web.shared.request_io import form_fields
from widget_server.web.shared.security import frame_ancestors, origin_of_url

MAX_QUERY_FIELDS = 40


@dataclass(frozen=True)
class ScopeItem:
    scope: str
    granted: bool


@get("/oauth/authorize")
async def authorize(request: Request[Any, Any, Any]) -> Response[str]:
    return await _authorize(request, _query(request))


@post("/oauth/authorize", status_code=303)
async def authorize_post(request: Request[Any, Any, Any]) -> Response[str]:
    """OIDC Core §3.1.2.1: the same request, form-encoded in a POST body."""
    params: dict[str, list[str]] = {}
    for name, values in (await form_fields(request)).items():
        for value in values:
            if isinstance(value, str):
                params.setdefault(name, []).append(value)
    return await _authorize(request, params)


async def _authorize(
    request: Request[Any, Any, Any], params: dict[str, list[str]]
) -> Response[str]:
    ctx = web_context(request)
    services = ctx.services
    try:
        client, redirect_uri = await oauth.check_client(services, params)
    except RedirectRefused as exc:
        return error_page(ctx, msg(exc.message_id), 400)
    state = _state(params)
    try:
        auth = oauth.read_request(client, redirect_uri, params)
        await oauth.check_pool(services, client, auth.pool_id)
        session = await _session(request, services, auth.pool_id)
        if session is not None and (
            "login" in auth.prompt
            or not oauth.session_fresh_enough(auth, session, services.clock.now())
        ):
            session = None
        return await _proceed(services, auth, session, login_flow=None)
    except OAuthError as exc:
        return redirect(
            oauth.error_redirect(services, redirect_uri, state, exc.error, exc.description)
        )


@get("/oauth/authorize/continue")
async def authorize_continue(request: Request[Any, Any, Any]) -> Response[str]:
    """Where the login page sends the browser back to once the user has logged in."""
    ctx = web_context(request)
    services = ctx.services
    try:
        flow = await oauth.load_flow(services, request.query_params.get("flow"), oauth.LOGIN_KIND)
    except FlowError:
        return error_page(ctx, msg("oauth.request_gone"), 410)
    auth = oauth.stored_request(flow)
    if flow.state != "done":
        return redirect(f"/embed/{flow.pool_id}/login?flow={flow.id}")
    pool = await _pool_of(services, auth.pool_id)
    session = await _session(request, services, auth.pool_id)
    if session is None or session.id != flow.data.get("session_id"):
        return error_page(ctx, msg("oauth.session_missing"), 400, pool)
    try:
        return await _proceed(services, auth, session, login_flow=flow.id)
    except OAuthError as exc:
        return redirect(
            oauth.error_redirect(
                services, auth.redirect_uri, auth.state, exc.error, exc.description
            )
        )
    except FlowError:
        return error_page(ctx, msg("oauth.request_gone"), 410, pool)


@get("/oauth/consent")
async def show_consent(request: Request[Any, Any, Any]) -> Response[str]:
    ctx = web_context(request)
    services = ctx.services
    try:
        flow = await oauth.load_flow(services, request.query_params.get("flow"), oauth.CONSENT_KIND)
    except FlowError:
        return error_page(ctx, msg("oauth.request_gone"), 410)
    auth = oauth.stored_request(flow)
    themed = await _pool_of(services, auth.pool_id)
    session = await _session(request, services, auth.pool_id)
    if session is None or session.id != flow.data.get("session_id"):
        return error_page(ctx, msg("oauth.session_missing"), 400, themed)
    client = await load_client(services, auth.client_id)
    if client is None:
        return error_page(ctx, msg("oauth.invalid_client"), 400, themed)
    pool = await services.pools.get(auth.pool_id)
    granted = set(await oauth.granted_scopes(services, session.user_id, auth.client_id))
    subject = await load_subject(services, session.user_id)
    label = (subject.verified.get("email") or subject.verified.get("phone")) if subject else None
    app_layer = theme_app(pool, auth.client_id)
    theme = ctx.renderer.theme(pool, app_layer)
    body = ctx.renderer.page(
        "oauth/consent.html",
        pool=pool,
        theme=theme,
        theme_app=app_layer,
        **ctx.renderer.texts(theme),
        app_name=client.name,
        user_label=label or session.user_id,
        user_markup=Markup('<strong class="ws-address">{}</strong>').format(label or "…"),
        scopes=[ScopeItem(s, s in granted and "consent" not in auth.prompt) for s in auth.scope],
        flow_id=flow.id,
        csrf_token=oauth.consent_csrf(services, flow.id, session.id),
        redirect_host=urlsplit(auth.redirect_uri).netloc,
        parent_origin=None,
        full_page=True,
    )
    return page(body, 200, _consent_csp(auth))


@post("/oauth/consent", status_code=303)
async def submit_consent(request: Request[Any, Any, Any]) -> Response[str]:
    ctx = web_context(request)
    services = ctx.services
    form = await form_fields(request)
    pool: PoolView | None = None  # known once the flow is: its errors wear its theme
    try:
        flow = await oauth.load_flow(services, _field(form, "flow_id"), oauth.CONSENT_KIND)
        auth = oauth.stored_request(flow)
        pool = await _pool_of(services, auth.pool_id)
        session = await _session(request, services, auth.pool_id)
        if session is None or session.id != flow.data.get("session_id"):
            return error_page(ctx, msg("oauth.session_missing"), 400, pool)
        expected = oauth.consent_csrf(services, flow.id, session.id)
        if not hmac_equal(expected, _field(form, "csrf_token") or ""):
            raise CsrfMismatch()
        decision = _field(form, "decision")
        if decision == "deny":
            await oauth.discard_flow(services, flow.id)
            return redirect(
                oauth.error_redirect(services, auth.redirect_uri, auth.state, "access_denied")
            )
        if decision != "allow":
            return error_page(ctx, msg("oauth.invalid_request", detail="decision"), 400, pool)
        if await load_client(services, auth.client_id) is None:
            return error_page(ctx, msg("oauth.invalid_client"), 400, pool)
        await oauth.record_consent(services, session.user_id, auth.client_id, auth.scope)
        return redirect(
            await oauth.issue_for_session(services, auth, session, consume_flow=flow.id)
        )
    except CsrfMismatch:
        return error_page(ctx, msg("flow.csrf"), 403, pool)
    except FlowError:
        return error_page(ctx, msg("oauth.request_gone"), 410, pool)


async def _pool_of(services: Services, pool_id: str) -> PoolView | None:
    """The pool of a stored request, for the theme of its error pages (None: gone)."""
    try:
        return await services.pools.get(pool_id)
    except PoolNotFound:
        return None


# --- steps --------------------------------------------------------------------------------


async def _proceed(
    services: Services,
    auth: AuthorizationRequest,
    session: SessionView | None,
    *,
    login_flow: str | None,
) -> Response[str]:
    if session is None:
        if "none" in auth.prompt:
            raise LoginRequired("no session")
        flow_id = await oauth.save_flow(services, oauth.LOGIN_KIND, auth)
        return redirect(f"/embed/{auth.pool_id}/login?flow={flow_id}")
    if await oauth.needs_consent(services, auth, session.user_id):
        if "none" in auth.prompt:
            raise ConsentRequired("consent needed")
        if login_flow is not None:
            await oauth.discard_flow(services, login_flow)
        flow_id = await oauth.save_flow(
            services, oauth.CONSENT_KIND, auth, user_id=session.user_id, session_id=session.id
        )
        return redirect(f"/oauth/consent?flow={flow_id}")
    return redirect(await oauth.issue_for_session(services, auth, session, consume_flow=login_flow))


async def _session(
    request: Request[Any, Any, Any], services: Services, pool_id: str
) -> SessionView | None:
    return await current_session(services, read_session_token(request, pool_id), pool_id)


# --- reading and drawing ------------------------------------------------------------------


def _query(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    raw = request.scope.get("query_string", b"").decode("latin-1")
    params: dict[str, list[str]] = {}
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        pairs = []
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def _state(params: dict[str, list[str]]) -> str | None:
    try:
        state = oauth.single(params, "state")
    except InvalidRequest:
        return None
    return state if state is None or len(state) <= oauth.MAX_STATE else None


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    value = values[0] if values else None
    return value if isinstance(value, str) and len(value) <= 256 else None


def redirect(location: str) -> Response[str]:
    return Response(
        "",
        status_code=303,
        headers={"location": location, "cache-control": "no-store"},
    )


def page(body: str, status: int, csp: str) -> Response[str]:
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={"content-security-policy": csp, "cache-control": "no-store"},
    )


def error_page(
    ctx: WebContext, message: Msg, status: int, pool: PoolView | None = None
) -> Response[str]:
    theme = ctx.renderer.theme(pool) if pool is not None else resolve_theme()
    body = ctx.renderer.page(
        "oauth/error.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        message=message,
        parent_origin=None,
        full_page=True,
    )
    return page(body, status, frame_ancestors(()))


def _consent_csp(auth: AuthorizationRequest) -> str:
    """Framed by nobody; the form may post here and continue to the client's origin."""
    target = origin_of_url(auth.redirect_uri)
    csp = frame_ancestors(())
    return csp.replace("form-action 'self'", f"form-action 'self' {target}") if target else csp


HANDLERS = [authorize, authorize_post, authorize_continue, show_consent, submit_consent]
