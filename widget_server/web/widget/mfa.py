"""The MFA step of the login: verify a code, or send one by email. Thin like the login
handlers: decode, load the flow (CSRF, state ``mfa``, age), call one service, render the
login card (``login_views.render_login`` draws state ``mfa`` with ``mfa_views``).

A right code ends like a login: the session cookie on the response, then a 303 to the
flow's page (plain post), the done card (HTMX), or the authorization endpoint's path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, post
from litestar.response import Redirect

from widget_server.auth import sessions
from widget_server.errors import (
    FlowStateError,
    UnknownApp,
    WidgetError,
)
from widget_server.flows import login
from widget_server.flows import mfa as mfa_flow
from widget_server.flows.inputs import FlowId, Token
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.web.shared.context import WebContext, mfa_throttle, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.params import CurrentPool
from widget_server.web.shared.request_io import (
    client_ip,
    decode_form,
    form_fields,
    is_htmx,
    is_top_level,
    single,
    with_query,
)
from widget_server.web.shared.responses import html
from widget_server.web.widget.errors import RESTART
from widget_server.web.widget.login_views import Done, login_path, render_login

PATH = "/embed/{pool_id:str}/login/mfa"


class VerifyPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flow_id: FlowId
    csrf_token: Token
    method: Literal["totp", "email"] = "totp"
    code: Annotated[str, msgspec.Meta(max_length=32)] = ""


class SendPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flow_id: FlowId
    csrf_token: Token


@post(PATH, status_code=200)
async def verify_mfa(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    raw = await form_fields(request)
    flow: Flow | None = None
    app: login.LoginApp | None = None
    method = single(raw, "method") or "totp"
    try:
        submitted: VerifyPost = decode_form(raw, VerifyPost)
        flow = await mfa_flow.load(ctx.services, pool, submitted.flow_id, submitted.csrf_token)
        app = await login.app_for(ctx.services, pool, flow.app_id)
        verify = mfa_flow.verify_totp if submitted.method == "totp" else mfa_flow.verify_email_code
        result = await verify(
            ctx.services,
            pool,
            flow,
            submitted.code,
            throttle=mfa_throttle(request),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    except UnknownApp:
        raise  # the router's not-found page
    except WidgetError as exc:
        return _refused(ctx, pool, flow, app, exc, method, fragment, top_level)
    await sessions.end_replaced_session(ctx.services, request, pool.id, result.token)
    return _succeeded(ctx, pool, result, app, fragment=fragment, top_level=top_level)


@post(PATH + "/send", status_code=200)
async def send_mfa_code(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    raw = await form_fields(request)
    flow: Flow | None = None
    app: login.LoginApp | None = None
    try:
        submitted: SendPost = decode_form(raw, SendPost)
        flow = await mfa_flow.load(ctx.services, pool, submitted.flow_id, submitted.csrf_token)
        app = await login.app_for(ctx.services, pool, flow.app_id)
        await mfa_flow.send_code(ctx.services, pool, flow)
    except UnknownApp:
        raise  # the router's not-found page
    except WidgetError as exc:
        return _refused(ctx, pool, flow, app, exc, "email", fragment, top_level)
    if not fragment:
        return Redirect(with_query(login_path(pool), flow=flow.id), status_code=303)
    return render_login(ctx, pool, flow, app=app, fragment=True, values={"method": "email"})


def _refused(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow | None,
    app: login.LoginApp | None,
    exc: WidgetError,
    method: str,
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    """The MFA step again with the reason; a flow that cannot go on: a fresh login form."""
    said = explain(exc)
    if flow is None or isinstance(exc, (*RESTART, FlowStateError)):
        origin = flow.parent_origin if flow is not None else None
        fresh = login.start(ctx.services, pool, origin, app)
        return render_login(
            ctx, pool, fresh, app=app, fragment=fragment, top_level=top_level,
            alerts=said.alerts or (exc.message,), status=said.status,
        )  # fmt: skip
    return render_login(
        ctx,
        pool,
        flow,
        app=app,
        fragment=fragment,
        top_level=top_level,
        values={"method": method},
        errors=said.errors,
        alerts=said.alerts,
        status=said.status,
        headers=said.headers,
    )


def _succeeded(
    ctx: WebContext,
    pool: PoolView,
    result: login.LoginResult,
    app: login.LoginApp | None,
    *,
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    """As a login that needed no second factor ends (``web/login.py``)."""
    assert result.token is not None and result.session_id is not None
    headers = {
        "set-cookie": sessions.session_cookie(pool.id, result.token, pool.session_lifetime_seconds)
    }
    if result.continue_path is not None:
        if fragment:
            return html(pool, "", 200, **headers, **{"hx-redirect": result.continue_path})
        return Redirect(result.continue_path, status_code=303, headers=headers)
    if fragment:
        done = Done(session_id=result.session_id, code=result.code)
        return render_login(
            ctx,
            pool,
            result.flow,
            app=app,
            fragment=True,
            top_level=top_level,
            done=done,
            headers=headers,
        )
    target = with_query(login_path(pool), flow=result.flow.id)
    return Redirect(target, status_code=303, headers=headers)


HANDLERS = [verify_mfa, send_mfa_code]
