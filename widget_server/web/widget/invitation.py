"""Invitation and set-password pages: an admin's new user activates or chooses a password.

One URL per action, like registration: an HTMX request gets the card as a fragment, a
plain form post a 303 to the flow's page, errors the page with messages
(``widget.errors.invitation_error_response``).

Set-password pages answer only with the token of their email (``?token=`` on the link,
then a hidden field); without it the link looks like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.params import PathParameter, QueryParameter
from litestar.response import Redirect

from widget_server.errors import InvalidInput, WidgetError
from widget_server.flows import invitation
from widget_server.flows.inputs import CodeText, FlowId, Password, Token
from widget_server.messages import msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.users.invitations import INVITATION, SET_PASSWORD
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.params import CurrentPool, OriginParam
from widget_server.web.shared.request_io import form_fields, is_htmx, is_top_level
from widget_server.web.shared.security import normalise_origin
from widget_server.web.widget.errors import invitation_error_response
from widget_server.web.widget.invitation_views import page_url, render_invitation

ACTIVATE = "/embed/{pool_id:str}/activate/{flow_id:str}"
SET = "/embed/{pool_id:str}/set-password/{flow_id:str}"

FlowPath = Annotated[str, PathParameter(max_length=64)]
LinkToken = Annotated[str | None, QueryParameter(name="token", max_length=128)]
Step = Literal["code", "resend", "password"]
#: The fields each step's form carries besides the flow's own.
_STEP_FIELDS: dict[str, frozenset[str]] = {
    "code": frozenset({"code"}),
    "resend": frozenset(),
    "password": frozenset({"password"}),
}
_COMMON = frozenset({"flow_id", "csrf_token", "parent_origin", "token"})


class PagePost(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    flow_id: FlowId
    csrf_token: Token
    parent_origin: Annotated[str, msgspec.Meta(max_length=255)] | None = None
    token: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    code: CodeText | None = None
    password: Password | None = None


def decode_post(form: Mapping[str, Sequence[str]], step: Step, flow_id: str) -> PagePost:
    """One ``PagePost``, or ``flow.malformed`` for a field twice, a field this step does
    not take, or a flow id other than the page's."""
    malformed = InvalidInput({"": [msg("flow.malformed")]})
    allowed = _COMMON | _STEP_FIELDS[step]
    if any(len(v) != 1 for v in form.values()) or not set(form) <= allowed:
        raise malformed
    try:
        decoded = msgspec.convert({k: v[0] for k, v in form.items()}, PagePost)
    except msgspec.ValidationError:
        raise malformed from None
    if decoded.flow_id != flow_id:
        raise malformed
    return decoded


# --- pages --------------------------------------------------------------------------------


@get(ACTIVATE)
async def show_invitation(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    flow_id: FlowPath,
    parent_origin: OriginParam = None,
) -> Response[str]:
    return await _show(request, pool, flow_id, INVITATION, parent_origin, None)


@get(SET)
async def show_set_password(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    flow_id: FlowPath,
    parent_origin: OriginParam = None,
    token: LinkToken = None,
) -> Response[str]:
    return await _show(request, pool, flow_id, SET_PASSWORD, parent_origin, token)


async def _show(
    request: Request[Any, Any, Any],
    pool: PoolView,
    flow_id: str,
    kind: invitation.Kind,
    parent_origin: str | None,
    token: str | None,
) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    origin = normalise_origin(parent_origin)
    try:
        flow = await invitation.get(ctx.services, pool, kind, flow_id)
        await invitation.check_link(ctx.services, flow, token)
    except WidgetError as exc:
        return await invitation_error_response(
            ctx,
            pool,
            exc,
            flow=None,
            kind=kind,
            flow_id=flow_id,
            fragment=fragment,
            top_level=top_level,
        )
    return render_invitation(
        ctx,
        pool,
        flow,
        fragment=fragment,
        top_level=top_level,
        parent_origin=origin,
        link_token=token,
    )


# --- actions ------------------------------------------------------------------------------


@post(ACTIVATE + "/code", status_code=200)
async def submit_invitation_code(
    request: Request[Any, Any, Any], pool: CurrentPool, flow_id: FlowPath
) -> Response[str]:
    return await _handle(request, pool, flow_id, INVITATION, "code")


@post(ACTIVATE + "/resend", status_code=200)
async def resend_invitation_code(
    request: Request[Any, Any, Any], pool: CurrentPool, flow_id: FlowPath
) -> Response[str]:
    return await _handle(request, pool, flow_id, INVITATION, "resend")


@post(ACTIVATE + "/password", status_code=200)
async def submit_invitation_password(
    request: Request[Any, Any, Any], pool: CurrentPool, flow_id: FlowPath
) -> Response[str]:
    return await _handle(request, pool, flow_id, INVITATION, "password")


@post(SET, status_code=200)
async def submit_set_password(
    request: Request[Any, Any, Any], pool: CurrentPool, flow_id: FlowPath
) -> Response[str]:
    return await _handle(request, pool, flow_id, SET_PASSWORD, "password")


async def _handle(
    request: Request[Any, Any, Any], pool: PoolView, flow_id: str, kind: invitation.Kind, step: Step
) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    raw = await form_fields(request)
    flow: Flow | None = None
    origin, token = _carried(raw)
    try:
        submitted = decode_post(raw, step, flow_id)
        flow = await invitation.load(ctx.services, pool, kind, flow_id, submitted.csrf_token)
        flow = await _dispatch(ctx, pool, flow, step, submitted)
    except WidgetError as exc:
        if flow is None and kind == SET_PASSWORD:
            # Without a valid token not even the error page may show the flow.
            exc = await _link_problem(ctx, pool, flow_id, token) or exc
        return await invitation_error_response(
            ctx,
            pool,
            exc,
            flow=flow,
            kind=kind,
            flow_id=flow_id,
            fragment=fragment,
            top_level=top_level,
            parent_origin=origin,
            link_token=token,
        )
    if fragment:
        return render_invitation(
            ctx, pool, flow, fragment=True, parent_origin=origin, link_token=token
        )
    return Redirect(page_url(pool, flow, origin), status_code=303)


def _carried(raw: Mapping[str, Sequence[str]]) -> tuple[str | None, str | None]:
    """Parent origin and link token as sent, for re-rendering even a malformed post."""
    origins, tokens = raw.get("parent_origin", []), raw.get("token", [])
    origin = normalise_origin(origins[0]) if len(origins) == 1 else None
    token = tokens[0] if len(tokens) == 1 and len(tokens[0]) <= 128 else None
    return origin, token


async def _link_problem(
    ctx: WebContext, pool: PoolView, flow_id: str, token: str | None
) -> WidgetError | None:
    try:
        flow = await invitation.get(ctx.services, pool, SET_PASSWORD, flow_id)
        await invitation.check_link(ctx.services, flow, token)
    except WidgetError as exc:
        return exc
    return None


async def _dispatch(
    ctx: WebContext, pool: PoolView, flow: Flow, step: Step, submitted: PagePost
) -> Flow:
    services = ctx.services
    if step == "code":
        return await invitation.verify_code(services, pool, flow, (submitted.code or "").strip())
    if step == "resend":
        return await invitation.resend_code(services, pool, flow)
    return await invitation.set_password(
        services, pool, flow, submitted.password or "", submitted.token
    )


HANDLERS = [
    show_invitation,
    show_set_password,
    submit_invitation_code,
    resend_invitation_code,
    submit_invitation_password,
    submit_set_password,
]
