"""The one module that turns domain errors into responses.

For a widget, an error is never a dead end: the user gets a page they can go on from
(the same form with messages, or a fresh flow with an explanation), with a status that
tells machines what happened.

=====================  ======  ==============================================
error                  status  what the user sees
=====================  ======  ==============================================
InvalidInput           422     the same step, values kept, messages by field
 (flow.malformed)      400     the same step, form-level message
CsrfMismatch           403     a fresh flow, ``flow.csrf``
FlowNotFound           404     a fresh flow, ``flow.not_found``
FlowExpired            410     a fresh flow, ``flow.expired``
FlowStateError         409     the flow as it now is, with the reason
CodeInvalid            422     the code step, ``code.invalid`` (attempts left)
CodeExpired            410     the code step, ``code.expired``
CodeExhausted          429     the code step, ``code.exhausted``
ResendTooSoon          429     the code step + ``Retry-After``
Overloaded             503     the same step, values kept + ``Retry-After``
LoginFailed            400     the login form, identifier kept, ``login.failed``
LoginThrottled         429     the login form + ``Retry-After``, ``login.throttled``
UnknownApp             404     a plain not-found page (``login.unknown_app``)
RegistrationClosed     403     a closed notice, no form
PoolNotFound           404     a plain not-found page
MfaCodeInvalid         422     the MFA step, ``mfa.code_invalid`` under the code
MfaCodeReused          422     the MFA step, ``mfa.code_reused`` (a replayed step)
MfaThrottled           429     the MFA step + ``Retry-After``, ``mfa.throttled``
MfaUnavailable         409     the MFA step, ``mfa.unavailable`` (nowhere to send)
NotSignedIn            401     the account portal's sign-in prompt
=====================  ======  ==============================================

Invitation and set-password pages (``invitation_error_response``) use the same statuses;
as there is no fresh flow to offer, an unknown, foreign or expired link gets a notice
(``invitation.not_found`` / ``invitation.expired``), and a stale CSRF token the flow as
it now is, with ``flow.csrf``.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar import Response

from widget_server.errors import (
    CodeError,
    CodeExhausted,
    CodeExpired,
    CodeInvalid,
    CsrfMismatch,
    FlowError,
    FlowExpired,
    FlowNotFound,
    FlowStateError,
    InvalidInput,
    LoginFailed,
    LoginThrottled,
    MfaCodeInvalid,
    MfaCodeReused,
    MfaThrottled,
    MfaUnavailable,
    NotSignedIn,
    Overloaded,
    PoolNotFound,
    RegistrationClosed,
    ResendTooSoon,
    UnknownApp,
    WidgetError,
)
from widget_server.flows import invitation, registration
from widget_server.messages import Msg, msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.web.context import WebContext
from widget_server.web.invitation_views import render_invitation, render_link_gone
from widget_server.web.views import html, render_closed, render_flow

STATUS: dict[type[WidgetError], int] = {
    InvalidInput: 422,
    CsrfMismatch: 403,
    FlowNotFound: 404,
    FlowExpired: 410,
    FlowStateError: 409,
    CodeInvalid: 422,
    CodeExpired: 410,
    CodeExhausted: 429,
    ResendTooSoon: 429,
    Overloaded: 503,
    RegistrationClosed: 403,
    PoolNotFound: 404,
    LoginFailed: 400,
    LoginThrottled: 429,
    UnknownApp: 404,
    MfaCodeInvalid: 422,
    MfaCodeReused: 422,
    MfaThrottled: 429,
    MfaUnavailable: 409,
    NotSignedIn: 401,
}


def status_for(exc: WidgetError) -> int:
    if isinstance(exc, InvalidInput) and "" in exc.messages:
        return 400
    return STATUS.get(type(exc), 400)


def _retry_headers(exc: WidgetError) -> dict[str, str]:
    seconds = getattr(exc, "retry_after", None)
    return {"retry-after": str(seconds)} if seconds is not None else {}


async def flow_error_response(
    ctx: WebContext,
    pool: PoolView,
    exc: WidgetError,
    *,
    flow: Flow | None,
    fragment: bool,
    top_level: bool = False,
    values: Mapping[str, object] | None = None,
    parent_origin: str | None = None,
) -> Response[str]:
    """Answer ``exc`` raised while handling a POST (or GET) on ``flow``."""
    status = status_for(exc)
    if isinstance(exc, RegistrationClosed):
        return render_closed(
            ctx,
            pool,
            parent_origin=parent_origin,
            fragment=fragment,
            top_level=top_level,
            status=status,
        )
    if isinstance(exc, (CsrfMismatch, FlowNotFound, FlowExpired)) or flow is None:
        origin = flow.parent_origin if flow is not None else parent_origin
        fresh = await registration.start(ctx.services, pool, origin)
        return render_flow(
            ctx,
            pool,
            fresh,
            alerts=_form_level(exc),
            fragment=fragment,
            top_level=top_level,
            status=status,
        )
    if isinstance(exc, FlowStateError):
        current = await _current(ctx, pool, flow)
        # Whatever the replayed request was, a finished flow is best explained as such.
        message = msg("flow.completed") if current.state == "done" else exc.message
        return render_flow(
            ctx,
            pool,
            current,
            alerts=(message,),
            fragment=fragment,
            top_level=top_level,
            status=status,
        )
    if isinstance(exc, InvalidInput):
        errors = {k: v for k, v in exc.messages.items() if k}
        alerts = exc.messages.get("", ())
        shown = values if flow.state == "form" else None
        return render_flow(
            ctx,
            pool,
            flow,
            values=shown,
            errors=errors,
            alerts=alerts,
            fragment=fragment,
            top_level=top_level,
            status=status,
        )
    if isinstance(exc, CodeError) and not isinstance(exc, ResendTooSoon):
        return render_flow(
            ctx,
            pool,
            flow,
            errors={"code": (exc.message,)},
            fragment=fragment,
            top_level=top_level,
            status=status,
        )
    return render_flow(
        ctx,
        pool,
        flow,
        values=values if flow.state == "form" else None,
        alerts=(exc.message,),
        headers=_retry_headers(exc),
        fragment=fragment,
        top_level=top_level,
        status=status,
    )


def _form_level(exc: WidgetError) -> tuple[Msg, ...]:
    """What to say above a fresh form: a malformed post's own message, else the error's."""
    if isinstance(exc, InvalidInput):
        return exc.messages.get("", ()) or (exc.message,)
    return (exc.message,)


async def _current(ctx: WebContext, pool: PoolView, flow: Flow) -> Flow:
    """The flow as stored now (another request may have moved it on)."""
    try:
        return await registration.get(ctx.services, pool, flow.id)
    except FlowError:
        return await registration.start(ctx.services, pool, flow.parent_origin)


def not_found_page(ctx: WebContext, exc: WidgetError) -> Response[str]:
    body = ctx.renderer.page(
        "error.html", message=exc.message, parent_origin=None, pool=None, full_page=True
    )
    return html(None, body, status_for(exc))


# --- invitation and set-password pages (admin-created users) --------------------------


async def invitation_error_response(
    ctx: WebContext,
    pool: PoolView,
    exc: WidgetError,
    *,
    flow: Flow | None,
    kind: invitation.Kind,
    flow_id: str,
    fragment: bool,
    top_level: bool = False,
    parent_origin: str | None = None,
    link_token: str | None = None,
) -> Response[str]:
    """Answer ``exc`` raised on an invitation or set-password page."""
    status = status_for(exc)
    if isinstance(exc, (FlowNotFound, FlowExpired)):
        gone = "invitation.expired" if isinstance(exc, FlowExpired) else "invitation.not_found"
        return render_link_gone(
            ctx, pool, msg(gone), fragment=fragment, top_level=top_level, status=status
        )
    if flow is None or isinstance(exc, (CsrfMismatch, FlowStateError)):
        # Show the flow as it is now (another request may have moved it on).
        try:
            flow = await invitation.get(ctx.services, pool, kind, flow_id)
        except FlowError as gone_exc:
            return await invitation_error_response(
                ctx,
                pool,
                gone_exc,
                flow=None,
                kind=kind,
                flow_id=flow_id,
                fragment=fragment,
                top_level=top_level,
            )
    errors: dict[str, tuple[Msg, ...]] = {}
    alerts: tuple[Msg, ...] = ()
    if isinstance(exc, InvalidInput):
        errors = {k: v for k, v in exc.messages.items() if k}
        alerts = exc.messages.get("", ())
    elif isinstance(exc, CodeError) and not isinstance(exc, ResendTooSoon):
        errors = {"code": (exc.message,)}
    elif isinstance(exc, FlowStateError) and flow.state == "done":
        alerts = (msg("flow.completed"),)
    else:
        alerts = (exc.message,)
    return render_invitation(
        ctx,
        pool,
        flow,
        fragment=fragment,
        top_level=top_level,
        parent_origin=parent_origin,
        link_token=link_token,
        errors=errors,
        alerts=alerts,
        status=status,
        headers=_retry_headers(exc),
    )
