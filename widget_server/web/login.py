"""Login and logout handlers: load the flow, check it, decode, call one service, render.

One URL per action, like registration: an HTMX request gets the card as a fragment, a
plain form post a 303 (to the flow's page, or to where an authorization request goes on),
errors the form again with the reason. The session cookie is set on the response that
ends the login, whatever its shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from widget_server.auth import sessions
from widget_server.auth.throttle import LoginThrottle
from widget_server.errors import (
    CsrfMismatch,
    FlowExpired,
    FlowNotFound,
    FlowStateError,
    InvalidInput,
    PoolNotFound,
    UnknownApp,
    WidgetError,
)
from widget_server.flows import login
from widget_server.flows.inputs import FlowId, Password, Ticket, Token
from widget_server.messages import msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.secrets_ import hmac_equal
from widget_server.web.context import WebContext, web_context
from widget_server.web.errors import not_found_page, status_for
from widget_server.web.login_views import (
    Done,
    login_path,
    logout_csrf,
    render_login,
    render_signed_out,
    with_query,
)
from widget_server.web.registration import is_htmx, is_top_level
from widget_server.web.request_io import form_fields
from widget_server.web.security import normalise_origin, origin_of_url
from widget_server.web.views import html

PATH = "/embed/{pool_id:str}/login"
LOGOUT = "/embed/{pool_id:str}/logout"
PoolId = Annotated[str, PathParameter(max_length=64)]
FlowParam = Annotated[str | None, QueryParameter(name="flow", max_length=64)]
OriginParam = Annotated[str | None, QueryParameter(name="parent_origin", max_length=255)]
ClientParam = Annotated[str | None, QueryParameter(name="client_id", max_length=64)]
#: ``prompt=login``: the form even when this browser is signed in (another account).
PromptParam = Annotated[str | None, QueryParameter(name="prompt", max_length=16)]
Identifier = Annotated[str, msgspec.Meta(max_length=1024)]


class LoginPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flow_id: FlowId
    csrf_token: Token
    flow_ticket: Ticket | None = None
    identifier: Identifier = ""
    password: Password = ""


class LogoutPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    csrf_token: Token
    parent_origin: Annotated[str, msgspec.Meta(max_length=255)] | None = None


def decode_form(form: Mapping[str, Sequence[str]], kind: type[Any]) -> Any:
    """One struct of ``kind``, or ``flow.malformed`` for a field twice or one too many."""
    if any(len(values) != 1 for values in form.values()):
        raise InvalidInput({"": [msg("flow.malformed")]})
    try:
        return msgspec.convert({k: v[0] for k, v in form.items()}, kind)
    except msgspec.ValidationError:
        raise InvalidInput({"": [msg("flow.malformed")]}) from None


def throttle_of(request: Request[Any, Any, Any]) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


# --- the page ---------------------------------------------------------------------------


@get(PATH)
async def show_login(
    request: Request[Any, Any, Any],
    pool_id: PoolId,
    flow_id: FlowParam = None,
    parent_origin: OriginParam = None,
    client_id: ClientParam = None,
    prompt: PromptParam = None,
) -> Response[str]:
    ctx = web_context(request)
    try:
        pool = await ctx.services.pools.get(pool_id)
        app = await login.app_for(ctx.services, pool, client_id)
    except (PoolNotFound, UnknownApp) as exc:
        return not_found_page(ctx, exc)
    fragment, top_level = is_htmx(request), is_top_level(request)
    origin = normalise_origin(parent_origin) or origin_of_url(request.headers.get("referer"))
    if not flow_id:
        flow = login.start(ctx.services, pool, origin, app)
        token = sessions.read_session_token(request, pool.id)
        ask = prompt == "login" or not token
        live = None if ask else await sessions.current_session(ctx.services, token, pool.id)
        if live is not None:
            # Signed in already (this browser, this partner site): say so, offer to sign
            # out, and tell the embedding page (an app's page gets a code, as after a login).
            flow = login.signed_in(flow, live)
            code = await login.code_for_live_session(ctx.services, flow, live)
            done = Done(session_id=live.id, code=code)
            return render_login(
                ctx, pool, flow, app=app, fragment=fragment, top_level=top_level, done=done
            )
        return render_login(ctx, pool, flow, app=app, fragment=fragment, top_level=top_level)
    try:
        flow = await login.get(ctx.services, pool, flow_id)
        app = await login.app_for(ctx.services, pool, flow.app_id)
    except WidgetError as exc:
        return _fresh(ctx, pool, app, origin, exc, fragment=fragment, top_level=top_level)
    if flow.state != "done":
        return render_login(ctx, pool, flow, app=app, fragment=fragment, top_level=top_level)
    return await _show_done(ctx, request, pool, flow, app, fragment=fragment, top_level=top_level)


async def _show_done(
    ctx: WebContext,
    request: Request[Any, Any, Any],
    pool: PoolView,
    flow: Flow,
    app: login.LoginApp | None,
    *,
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    """A finished login shown again (a reload, or after a plain form post): only to the
    browser holding the session it made; an app's page then gets a fresh code."""
    token = sessions.read_session_token(request, pool.id)
    live = await sessions.current_session(ctx.services, token, pool.id)
    if live is None or live.id != flow.data.get("session_id"):
        fresh = login.start(ctx.services, pool, flow.parent_origin, app)
        alert = msg("login.session_ended", "info")
        return render_login(
            ctx, pool, fresh, app=app, fragment=fragment, top_level=top_level, alerts=(alert,)
        )
    code = await login.code_for_session(ctx.services, flow, live.id, live.created_at)
    done = Done(session_id=live.id, code=code)
    return render_login(ctx, pool, flow, app=app, fragment=fragment, top_level=top_level, done=done)


# --- logging in -------------------------------------------------------------------------


@post(PATH, status_code=200)
async def submit_login(request: Request[Any, Any, Any], pool_id: PoolId) -> Response[str]:
    ctx = web_context(request)
    try:
        pool = await ctx.services.pools.get(pool_id)
    except PoolNotFound as exc:
        return not_found_page(ctx, exc)
    fragment, top_level = is_htmx(request), is_top_level(request)
    raw = await form_fields(request)
    typed = raw.get("identifier", [""])
    values = {"identifier": typed[0][:320] if len(typed) == 1 else ""}
    flow: Flow | None = None
    app: login.LoginApp | None = None
    try:
        submitted: LoginPost = decode_form(raw, LoginPost)
        flow = await login.load(
            ctx.services, pool, submitted.flow_id, submitted.csrf_token, submitted.flow_ticket
        )
        app = await login.app_for(ctx.services, pool, flow.app_id)
        result = await login.log_in(
            ctx.services,
            pool,
            flow,
            submitted.identifier,
            submitted.password,
            throttle=throttle_of(request),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except UnknownApp as exc:
        return not_found_page(ctx, exc)
    except WidgetError as exc:
        if flow is None or isinstance(exc, (CsrfMismatch, FlowNotFound, FlowExpired)):
            return _fresh(ctx, pool, app, None, exc, fragment=fragment, top_level=top_level)
        return await _failed(ctx, pool, flow, app, exc, values, fragment, top_level)
    return _succeeded(ctx, pool, result, app, fragment=fragment, top_level=top_level)


def _succeeded(
    ctx: WebContext,
    pool: PoolView,
    result: login.LoginResult,
    app: login.LoginApp | None,
    *,
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    flow: Flow = result.flow
    headers: dict[str, str] = {}
    if result.token is not None:
        headers["set-cookie"] = sessions.session_cookie(
            pool.id, result.token, pool.session_lifetime_seconds
        )
    if result.continue_path is not None:
        if fragment:
            # htmx would follow a 303 inside the card; HX-Redirect moves the whole page.
            return html(pool, "", 200, **headers, **{"hx-redirect": result.continue_path})
        return Redirect(result.continue_path, status_code=303, headers=headers)
    if fragment:
        done = Done(session_id=result.session_id, code=result.code) if result.session_id else None
        return render_login(
            ctx, pool, flow, app=app, fragment=True, top_level=top_level, done=done, headers=headers
        )
    # The code is not put in a URL: the page behind the redirect issues its own.
    return Redirect(with_query(login_path(pool), flow=flow.id), status_code=303, headers=headers)


async def _failed(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    app: login.LoginApp | None,
    exc: WidgetError,
    values: Mapping[str, str],
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    """The form again, with the typed identifier (never the password) and the reason."""
    if isinstance(exc, FlowStateError):
        current = await _current(ctx, pool, flow, app)
        return render_login(
            ctx,
            pool,
            current,
            app=app,
            fragment=fragment,
            top_level=top_level,
            alerts=(exc.message,),
            status=status_for(exc),
        )
    errors: dict[str, Sequence[Any]] = {}
    alerts: tuple[Any, ...] = (exc.message,)
    if isinstance(exc, InvalidInput):
        errors = {k: v for k, v in exc.messages.items() if k}
        alerts = exc.messages.get("", ())
    seconds = getattr(exc, "retry_after", None)
    return render_login(
        ctx,
        pool,
        flow,
        app=app,
        fragment=fragment,
        top_level=top_level,
        values=values,
        errors=errors,
        alerts=alerts,
        status=status_for(exc),
        headers={"retry-after": str(seconds)} if seconds is not None else None,
    )


async def _current(ctx: WebContext, pool: PoolView, flow: Flow, app: login.LoginApp | None) -> Flow:
    """The flow as stored now; a replayed ticket of a finished login gets a fresh form."""
    try:
        current = await login.get(ctx.services, pool, flow.id)
    except WidgetError:
        return login.start(ctx.services, pool, flow.parent_origin, app)
    if current.state == "done":
        return login.start(ctx.services, pool, flow.parent_origin, app)
    return current


def _fresh(
    ctx: WebContext,
    pool: PoolView,
    app: login.LoginApp | None,
    origin: str | None,
    exc: WidgetError,
    *,
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    fresh = login.start(ctx.services, pool, origin, app)
    alerts = exc.messages.get("", ()) if isinstance(exc, InvalidInput) else ()
    return render_login(
        ctx,
        pool,
        fresh,
        app=app,
        fragment=fragment,
        top_level=top_level,
        alerts=alerts or (exc.message,),
        status=status_for(exc),
    )


# --- logging out ------------------------------------------------------------------------


@post(LOGOUT, status_code=200)
async def logout(request: Request[Any, Any, Any], pool_id: PoolId) -> Response[str]:
    """End this browser's session in the pool. CSRF-protected: the token is derived from
    the session, so another site cannot sign the user out."""
    ctx = web_context(request)
    try:
        pool = await ctx.services.pools.get(pool_id)
    except PoolNotFound as exc:
        return not_found_page(ctx, exc)
    fragment = is_htmx(request)
    raw = await form_fields(request)
    token = sessions.read_session_token(request, pool.id)
    live = await sessions.current_session(ctx.services, token, pool.id)
    try:
        submitted: LogoutPost = decode_form(raw, LogoutPost)
    except InvalidInput as exc:
        return _logout_refused(ctx, pool, exc, fragment)
    origin = normalise_origin(submitted.parent_origin)
    if live is not None:
        if not _csrf_ok(ctx, live.id, submitted.csrf_token):
            return _logout_refused(ctx, pool, CsrfMismatch(), fragment)
        await sessions.end_session(ctx.services, token)
    # Without a live session there is nothing to protect: clear the cookie either way.
    headers = {"set-cookie": sessions.clear_session_cookie(pool.id)}
    if not fragment:
        target = with_query(f"/embed/{pool.id}/logged-out", parent_origin=origin)
        return Redirect(target, status_code=303, headers=headers)
    alerts = (msg("login.signed_out", "info"),)
    return render_signed_out(
        ctx, pool, parent_origin=origin, fragment=True, alerts=alerts, headers=headers
    )


def _csrf_ok(ctx: WebContext, session_id: str, submitted: str) -> bool:
    return hmac_equal(logout_csrf(ctx.services, session_id), submitted)


def _logout_refused(
    ctx: WebContext, pool: PoolView, exc: WidgetError, fragment: bool
) -> Response[str]:
    """Nothing was ended: say why, with a way back to the login page."""
    alerts = exc.messages.get("", ()) if isinstance(exc, InvalidInput) else (exc.message,)
    return render_signed_out(
        ctx,
        pool,
        parent_origin=None,
        fragment=fragment,
        alerts=alerts,
        status=status_for(exc),
        state="refused",
    )


@get(LOGOUT.replace("logout", "logged-out"))
async def show_logged_out(
    request: Request[Any, Any, Any], pool_id: PoolId, parent_origin: OriginParam = None
) -> Response[str]:
    ctx = web_context(request)
    try:
        pool = await ctx.services.pools.get(pool_id)
    except PoolNotFound as exc:
        return not_found_page(ctx, exc)
    alerts = (msg("login.signed_out", "info"),)
    return render_signed_out(
        ctx,
        pool,
        parent_origin=normalise_origin(parent_origin),
        fragment=is_htmx(request),
        alerts=alerts,
    )
