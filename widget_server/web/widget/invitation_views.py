"""Draw an invitation or set-password flow in whatever state it is in."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Response

from widget_server.flows.base import csrf_token
from widget_server.forms import FormNode, identifier_field
from widget_server.messages import Msg, msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.users.invitations import SET_PASSWORD
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.responses import html


def flow_path(pool: PoolView, kind: str, flow_id: str) -> str:
    page = "set-password" if kind == SET_PASSWORD else "activate"
    return f"/embed/{pool.id}/{page}/{flow_id}"


def page_url(pool: PoolView, flow: Flow, parent_origin: str | None) -> str:
    """Where a plain form post is redirected (303): the flow's page, without the link's
    token (a finished step no longer needs it, and the URL ends up in history)."""
    path = flow_path(pool, flow.kind, flow.id)
    return f"{path}?{urlencode({'parent_origin': parent_origin})}" if parent_origin else path


class ActivatedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What an embedding page learns when an invited user activates: nothing secret."""

    type: str = "activated"
    pool_id: str
    user_id: str


def password_node(pool: PoolView, flow: Flow, identifier: str, errors: Sequence[Msg]) -> FormNode:
    policy = pool.policy
    return FormNode(
        type="input",
        name="password",
        input_type="password",
        label=msg("ui.password_label", "info").text(),
        required=True,
        value=None,
        attributes={
            "autocomplete": "new-password",
            "maxlength": str(policy.max_length),
            # The registration's live check: the pool's own validators say which rules
            # the typed password meets, with the address for the similarity rule.
            "hx-post": f"/embed/{pool.id}/register/password-check",
            "hx-vals": json.dumps({identifier: flow.address or ""}),
            "hx-trigger": "input changed delay:200ms",
            "hx-target": "#f-password-rules",
            "hx-swap": "outerHTML",
            "hx-sync": "this:replace",
        },
        messages=tuple(errors),
        rules=tuple(policy.help()),
    )


def render_invitation(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    *,
    fragment: bool,
    top_level: bool = False,
    parent_origin: str | None = None,
    link_token: str | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[str]:
    """``parent_origin`` is used only if the pool allows it (checked here)."""
    origin = parent_origin if pool.allows_origin(parent_origin) else None
    path = flow_path(pool, flow.kind, flow.id)
    errors = errors or {}
    view: dict[str, Any] = {
        "state": flow.state,
        "kind": flow.kind,
        "address": flow.address,
        "alerts": tuple(alerts),
        "parent_origin": origin,
        "link_token": link_token if flow.state != "done" else None,
        "flow_id": flow.id,
        "csrf_token": csrf_token(ctx.services, flow.id),
        "flow_ticket": None,
        "event": None,
    }
    if flow.state == "code":
        view |= {
            "code_action": f"{path}/code",
            "resend_action": f"{path}/resend",
            "code_errors": tuple(errors.get("code", ())),
        }
        if not alerts:
            view["alerts"] = (msg("invitation.enter_code", "info", pool=pool.name),)
    elif flow.state == "password":
        identifier = identifier_field(pool.schema)
        node = password_node(pool, flow, identifier, errors.get("password", ()))
        view |= {
            "password_action": path if flow.kind == SET_PASSWORD else f"{path}/password",
            "nodes": [node],
        }
        # Anything not about the password (a malformed post) goes above the form.
        view["alerts"] += tuple(m for k, ms in errors.items() if k != "password" for m in ms)
    elif flow.kind != SET_PASSWORD and origin and flow.user_id:
        event = ActivatedEvent(pool_id=pool.id, user_id=flow.user_id)
        view["event"] = msgspec.to_builtins(event)
    return _respond(ctx, pool, fragment, top_level, view, status, headers)


def render_link_gone(
    ctx: WebContext,
    pool: PoolView,
    message: Msg,
    *,
    fragment: bool,
    top_level: bool,
    status: int,
) -> Response[str]:
    """No usable flow behind this link: say so; there is nothing to start afresh."""
    view: dict[str, Any] = {
        "state": "gone",
        "kind": "",
        "address": None,
        "alerts": (message,),
        "parent_origin": None,
        "event": None,
    }
    return _respond(ctx, pool, fragment, top_level, view, status, None)


def _respond(
    ctx: WebContext,
    pool: PoolView,
    fragment: bool,
    top_level: bool,
    view: dict[str, Any],
    status: int,
    headers: Mapping[str, str] | None,
) -> Response[str]:
    theme = ctx.renderer.theme(pool)
    body = ctx.renderer.page(
        "flows/invitation_card.html" if fragment else "flows/invitation.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        full_page=top_level,
        **view,
    )
    return html(pool, body, status, **(headers or {}))
