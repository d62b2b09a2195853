"""How the widget answers a domain error: never a dead end. The user gets a page they can
go on from (the same form with messages, or a fresh flow with an explanation), with the
status ``shared.errors.explain`` gives.

- A flow that cannot go on (``CsrfMismatch``, ``FlowNotFound``, ``FlowExpired``, or no
  flow at all): a fresh flow, the reason above it.
- ``FlowStateError`` (a replayed post): the flow as it now is, with the reason.
- ``RegistrationClosed``: a closed notice, no form.
- ``PoolNotFound``, ``UnknownApp``: a plain not-found page (``shared.pages.not_found``,
  the routers' handler).
- Anything else: the same step with the messages where ``explain`` puts them, the values
  typed kept (never the password), ``Retry-After`` where the error has one.

Invitation and set-password pages have no fresh flow to offer: an unknown, foreign or
expired link gets a notice (``invitation.not_found`` / ``invitation.expired``), and a
stale CSRF token the flow as it now is, with ``flow.csrf``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from litestar import Response

from widget_server.errors import (
    CsrfMismatch,
    FlowError,
    FlowExpired,
    FlowNotFound,
    FlowStateError,
    RegistrationClosed,
    WidgetError,
)
from widget_server.flows import invitation, registration
from widget_server.messages import Msg, msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.errors import explain
from widget_server.web.widget.invitation_views import render_invitation, render_link_gone
from widget_server.web.widget.registration_views import render_closed, render_flow

#: Errors after which a flow cannot go on: the person gets a fresh one.
RESTART = (CsrfMismatch, FlowNotFound, FlowExpired)


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
    """Answer ``exc`` raised while handling a registration POST (or GET) on ``flow``."""
    said = explain(exc)
    if isinstance(exc, RegistrationClosed):
        return render_closed(
            ctx,
            pool,
            parent_origin=parent_origin,
            fragment=fragment,
            top_level=top_level,
            status=said.status,
        )
    draw = partial(
        render_flow, ctx, pool, fragment=fragment, top_level=top_level, status=said.status
    )
    if isinstance(exc, RESTART) or flow is None:
        origin = flow.parent_origin if flow is not None else parent_origin
        fresh = await registration.start(ctx.services, pool, origin)
        return draw(fresh, alerts=said.alerts or (exc.message,))
    if isinstance(exc, FlowStateError):
        current = await _current(ctx, pool, flow)
        # Whatever the replayed request was, a finished flow is best explained as such.
        message = msg("flow.completed") if current.state == "done" else exc.message
        return draw(current, alerts=(message,))
    return draw(
        flow,
        values=values if flow.state == "form" else None,
        errors=said.errors,
        alerts=said.alerts,
        headers=said.headers,
    )


async def _current(ctx: WebContext, pool: PoolView, flow: Flow) -> Flow:
    """The flow as stored now (another request may have moved it on)."""
    try:
        return await registration.get(ctx.services, pool, flow.id)
    except FlowError:
        return await registration.start(ctx.services, pool, flow.parent_origin)


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
    said = explain(exc)
    if isinstance(exc, (FlowNotFound, FlowExpired)):
        gone = "invitation.expired" if isinstance(exc, FlowExpired) else "invitation.not_found"
        return render_link_gone(
            ctx, pool, msg(gone), fragment=fragment, top_level=top_level, status=said.status
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
    alerts: tuple[Msg, ...] = said.alerts
    if isinstance(exc, FlowStateError) and flow.state == "done":
        alerts = (msg("flow.completed"),)
    return render_invitation(
        ctx,
        pool,
        flow,
        fragment=fragment,
        top_level=top_level,
        parent_origin=parent_origin,
        link_token=link_token,
        errors=said.errors,
        alerts=alerts,
        status=said.status,
        headers=said.headers,
    )
