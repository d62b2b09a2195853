"""Login and logout handlers: load the flow, check it, decode, call one service, render.

One URL per action, like registration: an HTMX request gets the card as a fragment, a
plain form post a 303 (to the flow's page, or to where an authorization request goes on),
errors the form again with the reason. The session cookie is set on the response that
ends the login, whatever its shape.

A login hashes (a verify, or the dummy one), so its POST takes a place in the hashing
line before anything else, as a registration's does (``busy.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect

from widget_server.auth import sessions
from widget_server.errors import (
    CsrfMismatch,
    FlowStateError,
    InvalidInput,
    Overloaded,
    UnknownApp,
    WidgetError,
)
from widget_server.flows import login
from widget_server.flows.inputs import FlowId, Password, Ticket, Token
from widget_server.messages import msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.secrets_ import hmac_equal
from widget_server.web.shared.context import WebContext, login_throttle, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.params import ClientParam, CurrentPool, FlowParam, OriginParam
from widget_server.web.shared.request_io import (
    client_ip,
    decode_form,
    form_fields,
    is_htmx,
    is_top_level,
    with_query,
)
from widget_server.web.shared.responses import html
from widget_server.web.shared.security import normalise_origin, origin_of_url
from widget_server.web.widget import busy
from widget_server.web.widget.errors import RESTART
from widget_server.web.widget.login_views import Done, login_path, render_login, render_signed_out

PATH = "/embed/{pool_id:str}/login"
LOGOUT = "/embed/{pool_id:str}/logout"
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


# --- the page ---------------------------------------------------------------------------


@get(PATH)
async def show_login(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    flow_id: FlowParam = None,
    parent_origin: OriginParam = None,
    client_id: ClientParam = None,
    prompt: PromptParam = None,
) -> Response[str]:
    ctx = web_context(request)
    app = await login.app_for(ctx.services, pool, client_id)
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
            identifier = await login.sign_in_address(ctx.services, live.user_id)
            flow = login.signed_in(flow, live, identifier)
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
async def submit_login(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    ctx = web_context(request)
    raw = await form_fields(request)
    if not any(raw.get("password", ())):
        return await _log_in(ctx, request, pool, raw)  # refused as incomplete, no hash
    try:
        seat = ctx.services.hashing.admit()
    except Overloaded as exc:
        if is_htmx(request):
            return busy.busy_notice(ctx, pool, "login", exc.retry_after)
        return await _busy_page(ctx, request, pool, raw, exc.retry_after)
    with seat:
        await seat.turn()
        return await _log_in(ctx, request, pool, raw)


def _typed(raw: dict[str, list[str]]) -> dict[str, str]:
    """What a page shown again may hold of a post: the identifier, never the password."""
    typed = raw.get("identifier", [""])
    return {"identifier": typed[0][:320] if len(typed) == 1 else ""}


async def _busy_page(
    ctx: WebContext,
    request: Request[Any, Any, Any],
    pool: PoolView,
    raw: dict[str, list[str]],
    retry_after: int,
) -> Response[str]:
    """The refusal without JavaScript: the form again with the identifier and when to
    send it, or a fresh form if the post named no valid flow."""
    top_level = is_top_level(request)
    alerts = (busy.later("login", retry_after),)
    try:
        submitted: LoginPost = decode_form(raw, LoginPost)
        flow = await login.load(
            ctx.services, pool, submitted.flow_id, submitted.csrf_token, submitted.flow_ticket
        )
        app = await login.app_for(ctx.services, pool, flow.app_id)
    except WidgetError:
        flow, app = login.start(ctx.services, pool, None, None), None
    if flow.state != "form":  # a finished or MFA flow: its own page says what is next
        flow = login.start(ctx.services, pool, flow.parent_origin, app)
    return render_login(
        ctx,
        pool,
        flow,
        app=app,
        fragment=False,
        top_level=top_level,
        values=_typed(raw),
        alerts=alerts,
        status=503,
        headers=busy.retry_headers(retry_after),
    )


async def _log_in(
    ctx: WebContext,
    request: Request[Any, Any, Any],
    pool: PoolView,
    raw: dict[str, list[str]],
) -> Response[str]:
    fragment, top_level = is_htmx(request), is_top_level(request)
    values = _typed(raw)
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
            throttle=login_throttle(request),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except UnknownApp:
        raise  # the router's not-found page
    except WidgetError as exc:
        if flow is None or isinstance(exc, RESTART):
            return _fresh(ctx, pool, app, None, exc, fragment=fragment, top_level=top_level)
        return await _failed(ctx, pool, flow, app, exc, values, fragment, top_level)
    await sessions.end_replaced_session(ctx.services, request, pool.id, result.token)
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
            status=explain(exc).status,
        )
    said = explain(exc)
    return render_login(
        ctx,
        pool,
        flow,
        app=app,
        fragment=fragment,
        top_level=top_level,
        values=values,
        errors=said.errors,
        alerts=said.alerts,
        status=said.status,
        headers=said.headers,
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
    said = explain(exc)
    return render_login(
        ctx,
        pool,
        fresh,
        app=app,
        fragment=fragment,
        top_level=top_level,
        alerts=said.alerts or (exc.message,),
        status=said.status,
    )


# --- logging out ------------------------------------------------------------------------


@post(LOGOUT, status_code=200)
async def logout(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    """End this browser's session in the pool. CSRF-protected: the token is derived from
    the session, so another site cannot sign the user out."""
    ctx = web_context(request)
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
    return hmac_equal(sessions.logout_csrf(ctx.services, session_id), submitted)


def _logout_refused(
    ctx: WebContext, pool: PoolView, exc: WidgetError, fragment: bool
) -> Response[str]:
    """Nothing was ended: say why, with a way back to the login page."""
    said = explain(exc)
    return render_signed_out(
        ctx,
        pool,
        parent_origin=None,
        fragment=fragment,
        alerts=said.alerts,
        status=said.status,
        state="refused",
    )


@get(LOGOUT.replace("logout", "logged-out"))
async def show_logged_out(
    request: Request[Any, Any, Any], pool: CurrentPool, parent_origin: OriginParam = None
) -> Response[str]:
    ctx = web_context(request)
    alerts = (msg("login.signed_out", "info"),)
    return render_signed_out(
        ctx,
        pool,
        parent_origin=normalise_origin(parent_origin),
        fragment=is_htmx(request),
        alerts=alerts,
    )


HANDLERS = [show_login, submit_login, logout, show_logged_out]
