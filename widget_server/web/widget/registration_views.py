"""Draw a registration flow in whatever state it is in: the one place that knows which
template variables each state needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Response

from widget_server.flows.after_registration import NOTHING, AfterRegistration
from widget_server.flows.base import csrf_token
from widget_server.flows.registration import FLOW, channel_of, credential_step
from widget_server.forms import FormNode, identifier_field, steps_of
from widget_server.messages import Msg, msg
from widget_server.models import Flow
from widget_server.phones import masked
from widget_server.pools import PoolView
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.render import FlowIds, slot, step_view
from widget_server.web.shared.responses import html


def base_path(pool: PoolView) -> str:
    return f"/embed/{pool.id}/register"


def password_node(pool: PoolView, flow: Flow, errors: Sequence[Msg]) -> FormNode:
    policy = pool.policy
    keep = flow.password_hash is not None
    return FormNode(
        type="input",
        name="password",
        input_type="password",
        label=msg("ui.password_label", "info").text(),
        help=msg("password.keep", level="info").text() if keep else None,
        required=not keep,
        value=None,
        attributes={
            "autocomplete": "new-password",
            "maxlength": str(policy.max_length),
            "hx-post": f"{base_path(pool)}/password-check",
            "hx-trigger": "input changed delay:200ms",
            "hx-target": "#f-password-rules",
            "hx-swap": "outerHTML",
            "hx-sync": "this:replace",
        },
        messages=tuple(errors),
        rules=tuple(policy.help()),
    )


def flow_values(flow: Flow) -> dict[str, object]:
    return dict(flow.data)


def render_flow(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    *,
    fragment: bool,
    top_level: bool = False,
    values: Mapping[str, object] | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    after: AfterRegistration = NOTHING,
) -> Response[str]:
    """``top_level``: the page is a browser tab of its own, not an iframe; it gets the
    centred full-page layout instead of the transparent embedded one. ``after``: what
    the done step offers next (``flows/after_registration.py``)."""

    def view(address: str | None = shown_address(flow.address)) -> dict[str, Any]:
        state = _state_view(ctx, pool, flow, values, errors or {}, alerts, address)
        return state | {"full_page": top_level, "after": after_view(pool, flow, after)}

    ids = FlowIds(
        flow_id=flow.id,
        csrf_token=csrf_token(ctx.services, flow.id),
        flow_ticket=FLOW.ticket_for(ctx.services, flow),
        parent_origin=flow.parent_origin,
    )
    cached = partial(
        ctx.renderer.cached_registration,
        pool,
        fragment=fragment,
        ids=ids,
        full_page=top_level,
        app_id=flow.app_id,
    )
    untouched = values is None and not errors and not alerts
    if untouched and _pristine(pool, flow):
        body = cached(page="first", view=view)
    elif untouched and flow.state == "code":
        # The code step as it follows the form: the same for everyone but the address.
        page = "code" if channel_of(flow.address or "@") == "email" else "code-sms"
        address = shown_address(flow.address) or ""
        body = cached(page=page, view=lambda: view(slot("address")), address=address)
    else:
        body = ctx.renderer.registration(
            pool, fragment=fragment, ids=ids, app_id=flow.app_id, **view()
        )
    return html(pool, body, status, **(headers or {}))


def after_view(pool: PoolView, flow: Flow, after: AfterRegistration) -> dict[str, str] | None:
    """The done step's next action for the template: its kind and where it goes."""
    if flow.state != "done" or after.action == "none":
        return None
    if after.action == "sign_in":
        query = {"parent_origin": flow.parent_origin, "client_id": flow.app_id}
        url = f"/embed/{pool.id}/login"
        given = {k: v for k, v in query.items() if v}
        return {"action": "sign_in", "url": url + ("?" + urlencode(given) if given else "")}
    if after.action == "continue" and after.continue_url:
        return {"action": "continue", "url": after.continue_url}
    payload = msgspec.json.encode(CloseEvent(pool_id=pool.id)).decode()
    return {"action": "close", "payload": payload}


class CloseEvent(msgspec.Struct, frozen=True, kw_only=True):
    """The person is done with the widget (the done step's "Close"): remove or hide it."""

    type: str = "close"
    pool_id: str


def shown_address(address: str | None) -> str | None:
    """Where the code went, as the code step shows it: a phone number masked
    (``+49 ••• ••56``), so a shoulder or a screenshot does not carry it whole."""
    if address is None or channel_of(address) == "email":
        return address
    return masked(address)


def _pristine(pool: PoolView, flow: Flow) -> bool:
    """The first step as every visitor first sees it: the same page for all of them."""
    untouched = flow.password_hash is None and flow.state == "form"
    return untouched and flow.step == steps_of(pool.schema)[0].id


def _state_view(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    values: Mapping[str, object] | None,
    errors: Mapping[str, Sequence[Msg]],
    alerts: Sequence[Msg],
    address: str | None,
) -> dict[str, Any]:
    path = base_path(pool)
    view: dict[str, Any] = {"alerts": tuple(alerts), "action": path, "step_index": -1}
    if flow.state == "form":
        password = None
        if flow.step == credential_step(pool):
            password = password_node(pool, flow, errors.get("password", ()))
        identifier = identifier_field(pool.schema)
        shown = flow_values(flow) if values is None else values
        view |= step_view(pool, flow.step, shown, errors, password, identifier)
        # Errors for names the step has no field for (an unknown or foreign field) would
        # otherwise vanish: show them above the form.
        named = {node.name for node in view["nodes"]}
        view["alerts"] += tuple(m for k, ms in errors.items() if k not in named for m in ms)
    elif flow.state == "code":
        view |= {
            "state": "code",
            "code_action": f"{path}/code",
            "resend_action": f"{path}/resend",
            "code_errors": tuple(errors.get("code", ())),
            "code_minutes": ctx.services.settings.code_ttl_seconds // 60,
            "code_channel": channel_of(flow.address or "@"),
        }
        if not alerts:
            sent = "registration.check_email"
            if view["code_channel"] == "sms":
                sent = "registration.check_phone"
            view["alerts"] = (msg(sent, "info", address=address or ""),)
    else:
        view |= {"state": "done", "address": flow.address, "event": _event(pool, flow)}
    return view


class RegisteredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What the partner page learns: who registered where, nothing secret."""

    type: str = "registered"
    pool_id: str
    user_id: str


def _event(pool: PoolView, flow: Flow) -> dict[str, Any] | None:
    if flow.parent_origin is None or flow.user_id is None:
        return None
    return msgspec.to_builtins(RegisteredEvent(pool_id=pool.id, user_id=flow.user_id))  # type: ignore[no-any-return]


def render_closed(
    ctx: WebContext,
    pool: PoolView,
    *,
    fragment: bool,
    status: int,
    top_level: bool = False,
    parent_origin: str | None = None,
) -> Response[str]:
    theme = ctx.renderer.theme(pool)
    body = ctx.renderer.page(
        "flows/registration_card.html" if fragment else "flows/registration.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        state="closed",
        alerts=(msg("registration.disabled"),),
        # Still talk to an allowed embedding page, so the iframe fits the notice.
        parent_origin=parent_origin if pool.allows_origin(parent_origin) else None,
        full_page=top_level,
    )
    return html(pool, body, status)
