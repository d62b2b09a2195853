"""Registration handlers: load the flow, check it, decode, call one service, render.

One URL per action; an HTMX request gets the card as a fragment, a plain form post a
303 to the flow's page (so reload and back never re-submit), errors a full page.

A post that will hash a password first takes a place in the hashing line, before it is
decoded, validated or rendered; refused, it gets the cheap answer of ``busy.py``, and
admitted, it waits for its turn (``passwords/admission.py``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from widget_server.errors import InvalidInput, Overloaded, WidgetError
from widget_server.flows import after_registration, login, registration
from widget_server.flows.after_registration import AfterRegistration
from widget_server.flows.inputs import (
    CodeSubmit,
    ResendCode,
    StepBack,
    StepSubmit,
    Submission,
    decode_submission,
    hashes_password,
)
from widget_server.forms import identifier_field
from widget_server.models import Flow
from widget_server.observe import signup
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.params import ClientParam, CurrentPool, FlowParam, OriginParam
from widget_server.web.shared.request_io import first, form_fields, header, is_htmx, is_top_level
from widget_server.web.shared.responses import html
from widget_server.web.shared.security import normalise_origin, origin_of_url
from widget_server.web.widget import busy
from widget_server.web.widget.errors import flow_error_response
from widget_server.web.widget.registration_views import base_path, render_flow

PATH = "/embed/{pool_id:str}/register"


@get(PATH)
async def show_registration(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    flow_id: FlowParam = None,
    parent_origin: OriginParam = None,
    client_id: ClientParam = None,
) -> Response[str]:
    ctx = web_context(request)
    fragment, top_level = is_htmx(request), is_top_level(request)
    origin = normalise_origin(parent_origin) or origin_of_url(header(request, b"referer"))
    # The app's theme layer shows, and its events name it; an app that may not use this
    # pool is a plain 404, as at the login.
    app = None if flow_id else await login.app_for(ctx.services, pool, client_id)
    try:
        if flow_id:
            flow = await registration.get(ctx.services, pool, flow_id)
        else:
            flow = await registration.start(
                ctx.services, pool, origin, app.id if app is not None else None
            )
            signup.viewed(ctx.services.telemetry, pool, flow)
    except WidgetError as exc:
        return await flow_error_response(
            ctx,
            pool,
            exc,
            flow=None,
            fragment=fragment,
            top_level=top_level,
            parent_origin=origin,
        )
    after = await _after(ctx, flow)
    return render_flow(ctx, pool, flow, fragment=fragment, top_level=top_level, after=after)


async def _after(ctx: WebContext, flow: Flow) -> AfterRegistration:
    """What the done step offers next; read only for a finished flow (once per sign-up)."""
    if flow.state != "done":
        return after_registration.NOTHING
    return await after_registration.after_for(ctx.services, flow.pool_id, flow.app_id)


@post(PATH, status_code=200)
async def submit_registration(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    return await _handle(request, pool, "next")


@post(PATH + "/code", status_code=200)
async def submit_code(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    return await _handle(request, pool, "verify")


@post(PATH + "/resend", status_code=200)
async def resend_code(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    return await _handle(request, pool, "resend")


@post(PATH + "/password-check", status_code=200)
async def password_check(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
    """The live rule list under the password field, computed by the pool's validators
    themselves so the help text and the rule cannot drift."""
    ctx = web_context(request)
    fields = await form_fields(request)
    password = str(first(fields, "password"))
    identifier = str(first(fields, identifier_field(pool.schema)))
    results = pool.policy.check(password, PasswordContext(identifier=identifier or None))
    theme = ctx.renderer.theme(pool)
    body = ctx.renderer.page(
        "flows/password_rules.html",
        results=results,
        t=lambda m: m.text(theme.copy),
        typed=bool(password),
    )
    return html(pool, body)


async def _handle(request: Request[Any, Any, Any], pool: PoolView, action: str) -> Response[str]:
    ctx = web_context(request)
    raw = await form_fields(request)
    if not hashes_password(raw, action):
        return await _answer(ctx, request, pool, action, raw)
    try:
        seat = ctx.services.hashing.admit()
    except Overloaded as exc:
        if is_htmx(request):
            return busy.busy_notice(ctx, pool, "registration", exc.retry_after)
        return await _busy_page(ctx, request, pool, raw, exc.retry_after)
    with seat:
        await seat.turn()
        return await _answer(ctx, request, pool, action, raw)


async def _answer(
    ctx: WebContext,
    request: Request[Any, Any, Any],
    pool: PoolView,
    action: str,
    raw: dict[str, list[str]],
) -> Response[str]:
    fragment, top_level = is_htmx(request), is_top_level(request)
    values = _kept(raw)
    flow: Flow | None = None
    try:
        submission = decode_submission(raw, action)
        flow = await registration.load(
            ctx.services,
            pool,
            submission.flow_id,
            submission.csrf_token,
            submission.flow_ticket,
        )
        step, state = flow.step, flow.state
        flow = await _dispatch(ctx, pool, flow, submission)
        _observe(ctx, pool, submission, step, state, flow)
    except InvalidInput as exc:
        if flow is None:
            flow = await _flow_for_malformed(ctx, pool, raw)
        else:
            _observe_refusal(ctx, pool, submission, flow, exc)
        return await flow_error_response(
            ctx, pool, exc, flow=flow, fragment=fragment, top_level=top_level, values=values
        )
    except WidgetError as exc:
        if flow is not None:
            _observe_refusal(ctx, pool, submission, flow, exc)
        return await flow_error_response(
            ctx, pool, exc, flow=flow, fragment=fragment, top_level=top_level, values=values
        )
    if fragment:
        return render_flow(ctx, pool, flow, fragment=True, after=await _after(ctx, flow))
    return Redirect(f"{base_path(pool)}?flow={flow.id}", status_code=303)


def _observe(
    ctx: WebContext, pool: PoolView, submission: Submission, step: str, state: str, flow: Flow
) -> None:
    """Metrics and funnel counts of an accepted action (``observe/signup.py``)."""
    telemetry = ctx.services.telemetry
    if isinstance(submission, StepSubmit) and state == "form":
        signup.step_accepted(telemetry, pool, step, flow)
    elif isinstance(submission, CodeSubmit) and flow.state == "done":
        signup.activated(telemetry, pool, flow)
    elif isinstance(submission, ResendCode):
        signup.code_resent(telemetry, registration.PURPOSE)


def _observe_refusal(
    ctx: WebContext, pool: PoolView, submission: Submission, flow: Flow, exc: WidgetError
) -> None:
    """A step or a code refused: counted with the message ids the person was shown."""
    ids = [m.id for m in explain(exc).messages]
    if isinstance(submission, StepSubmit) and flow.state == "form":
        signup.step_refused(ctx.services.telemetry, pool, flow.step, flow, ids)
    elif isinstance(submission, CodeSubmit) and flow.state == "code":
        signup.code_refused(ctx.services.telemetry, pool, flow, ids)


def _kept(raw: dict[str, list[str]]) -> dict[str, object]:
    """What a page shown again may hold of a post: never the password."""
    return {k: v[0] for k, v in raw.items() if len(v) == 1 and k != "password"}


async def _busy_page(
    ctx: WebContext,
    request: Request[Any, Any, Any],
    pool: PoolView,
    raw: dict[str, list[str]],
    retry_after: int,
) -> Response[str]:
    """The refusal without JavaScript: the step again with what was typed (never the
    password) and when to send it, or a fresh form if the post named no valid flow."""
    top_level = is_top_level(request)
    flow = await _flow_for_malformed(ctx, pool, raw)
    values: dict[str, object] | None = _kept(raw)
    if flow is None:
        try:
            flow, values = await registration.start(ctx.services, pool, None), None
        except WidgetError as exc:  # sign-up closed meanwhile: say that instead
            return await flow_error_response(
                ctx, pool, exc, flow=None, fragment=False, top_level=top_level
            )
    return render_flow(
        ctx,
        pool,
        flow,
        fragment=False,
        top_level=top_level,
        values=values if flow.state == "form" else None,
        alerts=(busy.later("registration", retry_after),),
        status=503,
        headers=busy.retry_headers(retry_after),
    )


async def _dispatch(ctx: WebContext, pool: PoolView, flow: Flow, submission: Submission) -> Flow:
    services = ctx.services
    match submission:
        case StepSubmit():
            return await registration.submit_step(services, pool, flow, submission)
        case StepBack(step=step):
            return await registration.back(services, pool, flow, step)
        case CodeSubmit(code=code):
            return await registration.verify_code(services, pool, flow, code.strip())
        case ResendCode():
            return await registration.resend_code(services, pool, flow)


async def _flow_for_malformed(
    ctx: WebContext, pool: PoolView, raw: dict[str, list[str]]
) -> Flow | None:
    """A malformed post may still name a valid flow (CSRF checked); show it if so."""
    flow_ids, tokens = raw.get("flow_id", []), raw.get("csrf_token", [])
    tickets = raw.get("flow_ticket", [])
    if len(flow_ids) != 1 or len(tokens) != 1 or len(tickets) > 1:
        return None
    try:
        return await registration.load(
            ctx.services, pool, flow_ids[0], tokens[0], tickets[0] if tickets else None
        )
    except WidgetError:
        return None


HANDLERS = [show_registration, submit_registration, submit_code, resend_code, password_check]
