"""Password recovery pages: ask for a code, enter it, choose a new password.

One URL per action, like registration: an HTMX request gets the card as a fragment, a
plain form post a 303 to the flow's page, errors the card again with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.response import Redirect

from widget_server.errors import (
    FlowStateError,
    InvalidInput,
    WidgetError,
)
from widget_server.flows import recovery
from widget_server.flows.base import csrf_token
from widget_server.flows.inputs import CodeText, FlowId, Password, Ticket, Token
from widget_server.forms import FormNode, identifier_field
from widget_server.messages import Msg, msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.themes import Theme
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.params import CurrentPool, FlowParam, OriginParam
from widget_server.web.shared.render import FlowIds
from widget_server.web.shared.request_io import form_fields, is_htmx, is_top_level, with_query
from widget_server.web.shared.responses import html
from widget_server.web.shared.security import normalise_origin, origin_of_url
from widget_server.web.widget.errors import RESTART
from widget_server.web.widget.login_views import identifier_node, login_path

PATH = "/embed/{pool_id:str}/recover"
Step = Literal["request", "verify", "resend", "reset"]
_FIELDS: dict[Step, frozenset[str]] = {
    "request": frozenset({"identifier"}),
    "verify": frozenset({"code"}),
    "resend": frozenset(),
    "reset": frozenset({"password"}),
}
_COMMON = frozenset({"flow_id", "csrf_token", "flow_ticket"})


class RecoveryPost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flow_id: FlowId
    csrf_token: Token
    flow_ticket: Ticket | None = None
    identifier: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    code: CodeText = ""
    password: Password = ""


def decode_post(form: Mapping[str, Sequence[str]], step: Step) -> RecoveryPost:
    malformed = InvalidInput({"": [msg("flow.malformed")]})
    if any(len(v) != 1 for v in form.values()) or not set(form) <= _COMMON | _FIELDS[step]:
        raise malformed
    try:
        return msgspec.convert({k: v[0] for k, v in form.items()}, RecoveryPost)
    except msgspec.ValidationError:
        raise malformed from None


def recover_path(pool: PoolView) -> str:
    return f"/embed/{pool.id}/recover"


# --- pages --------------------------------------------------------------------------------


@get(PATH)
async def show_recovery(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    flow_id: FlowParam = None,
    parent_origin: OriginParam = None,
) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    origin = normalise_origin(parent_origin) or origin_of_url(request.headers.get("referer"))
    try:
        if flow_id:
            flow = await recovery.get(ctx.services, pool, flow_id)
        else:
            flow = recovery.start(ctx.services, pool, origin)
    except WidgetError as exc:
        return _fresh(ctx, pool, origin, exc, fragment=fragment, top_level=top_level)
    return render_recovery(ctx, pool, flow, fragment=fragment, top_level=top_level)


@post(PATH, status_code=200)
async def request_recovery_code(
    request: Request[Any, Any, Any], pool: CurrentPool
) -> Response[str]:
    return await _handle(request, pool, "request")


@post(PATH + "/code", status_code=200)
async def submit_recovery_code(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    return await _handle(request, pool, "verify")


@post(PATH + "/resend", status_code=200)
async def resend_recovery_code(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    return await _handle(request, pool, "resend")


@post(PATH + "/password", status_code=200)
async def submit_new_password(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    return await _handle(request, pool, "reset")


async def _handle(request: Request[Any, Any, Any], pool: PoolView, step: Step) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    raw = await form_fields(request)
    typed = raw.get("identifier", [""])
    values = {"identifier": typed[0][:320] if len(typed) == 1 else ""}
    flow: Flow | None = None
    try:
        submitted = decode_post(raw, step)
        flow = await recovery.load(
            ctx.services, pool, submitted.flow_id, submitted.csrf_token, submitted.flow_ticket
        )
        flow = await _dispatch(ctx, pool, flow, step, submitted)
    except WidgetError as exc:
        if flow is None or isinstance(exc, RESTART):
            origin = flow.parent_origin if flow is not None else None
            return _fresh(ctx, pool, origin, exc, fragment=fragment, top_level=top_level)
        return await _failed(ctx, pool, flow, exc, values, fragment, top_level)
    if fragment:
        return render_recovery(ctx, pool, flow, fragment=True)
    return Redirect(with_query(recover_path(pool), flow=flow.id), status_code=303)


async def _dispatch(
    ctx: WebContext, pool: PoolView, flow: Flow, step: Step, submitted: RecoveryPost
) -> Flow:
    services = ctx.services
    if step == "request":
        return await recovery.request_code(services, pool, flow, submitted.identifier)
    if step == "verify":
        return await recovery.verify_code(services, pool, flow, submitted.code.strip())
    if step == "resend":
        return await recovery.resend_code(services, pool, flow)
    return await recovery.reset_password(services, pool, flow, submitted.password)


async def _failed(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    exc: WidgetError,
    values: Mapping[str, str],
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    said = explain(exc)
    if isinstance(exc, FlowStateError):
        try:
            flow = await recovery.get(ctx.services, pool, flow.id)
        except WidgetError:
            flow = recovery.start(ctx.services, pool, flow.parent_origin)
    return render_recovery(
        ctx,
        pool,
        flow,
        fragment=fragment,
        top_level=top_level,
        values=values,
        errors=said.errors,
        alerts=said.alerts,
        status=said.status,
        headers=said.headers,
    )


def _fresh(
    ctx: WebContext,
    pool: PoolView,
    origin: str | None,
    exc: WidgetError,
    *,
    fragment: bool,
    top_level: bool,
) -> Response[str]:
    fresh = recovery.start(ctx.services, pool, origin)
    said = explain(exc)
    return render_recovery(
        ctx,
        pool,
        fresh,
        fragment=fragment,
        top_level=top_level,
        alerts=said.alerts or (exc.message,),
        status=said.status,
    )


HANDLERS = [
    show_recovery,
    request_recovery_code,
    submit_recovery_code,
    resend_recovery_code,
    submit_new_password,
]


# --- drawing ------------------------------------------------------------------------------


def render_recovery(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    *,
    fragment: bool,
    top_level: bool = False,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[str]:
    theme = ctx.renderer.theme(pool)
    errors = errors or {}
    ids = FlowIds(
        flow_id=flow.id,
        csrf_token=csrf_token(ctx.services, flow.id),
        flow_ticket=recovery.FLOW.ticket_for(ctx.services, flow),
        parent_origin=flow.parent_origin,
    )
    view = _state_view(ctx, pool, flow, theme, values or {}, errors, tuple(alerts))
    body = ctx.renderer.page(
        "flows/recovery_card.html" if fragment else "flows/recovery.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        **ids._asdict(),
        full_page=top_level,
        login_url=with_query(login_path(pool), parent_origin=flow.parent_origin),
        **view,
    )
    return html(pool, body, status, **(headers or {}))


def _state_view(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    theme: Theme,
    values: Mapping[str, str],
    errors: Mapping[str, Sequence[Msg]],
    alerts: tuple[Msg, ...],
) -> dict[str, Any]:
    path = recover_path(pool)
    view: dict[str, Any] = {"state": flow.state, "alerts": alerts}
    if flow.state == "identify":
        node = identifier_node(pool, theme, values.get("identifier"), errors.get("identifier", ()))
        view |= {"action": path, "nodes": [node]}
    elif flow.state == "code":
        view |= {
            "code_action": f"{path}/code",
            "resend_action": f"{path}/resend",
            "code_errors": tuple(errors.get("code", ())),
            "code_minutes": ctx.services.settings.code_ttl_seconds // 60,
        }
        if not alerts:
            view["alerts"] = (msg("recovery.sent", "info", address=flow.address or ""),)
    elif flow.state == "password":
        node = new_password_node(pool, theme, flow, errors.get("password", ()))
        view |= {"password_action": f"{path}/password", "nodes": [node]}
    elif flow.state == "done" and not alerts:
        view["alerts"] = (msg("recovery.done", "info"),)
    return view


def new_password_node(pool: PoolView, theme: Theme, flow: Flow, errors: Sequence[Msg]) -> FormNode:
    policy = pool.policy
    return FormNode(
        type="input",
        name="password",
        input_type="password",
        label=Msg(id="ui.new_password_label", level="info").text(theme.copy),
        required=True,
        value=None,
        attributes={
            "autocomplete": "new-password",
            "maxlength": str(policy.max_length),
            # The registration's live check: the pool's own validators say which rules the
            # typed password meets, with the address for the similarity rule.
            "hx-post": f"/embed/{pool.id}/register/password-check",
            "hx-vals": json.dumps({identifier_field(pool.schema): flow.address or ""}),
            "hx-trigger": "input changed delay:200ms",
            "hx-target": "#f-password-rules",
            "hx-swap": "outerHTML",
            "hx-sync": "this:replace",
        },
        messages=tuple(errors),
        rules=tuple(policy.help()),
    )
