"""Draw a login flow in whatever state it is in, with the headers its page needs."""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

import msgspec
from litestar import Response
from markupsafe import escape

from widget_server.auth.identifiers import accepts_phone, identifier_is_phone
from widget_server.auth.sessions import logout_csrf
from widget_server.flows import login
from widget_server.flows.base import csrf_token
from widget_server.forms import FormNode
from widget_server.messages import Msg
from widget_server.models import Flow
from widget_server.phones import masked
from widget_server.pools import PoolView
from widget_server.themes import Theme
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.render import FlowIds, slot, theme_app
from widget_server.web.shared.request_io import with_query
from widget_server.web.shared.responses import html
from widget_server.web.shared.security import frame_ancestors
from widget_server.web.widget.mfa_views import mfa_view


def login_path(pool: PoolView) -> str:
    return f"/embed/{pool.id}/login"


class LoggedInEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What the embedding page learns: the pool, and for an app a one-time code its
    backend exchanges for an ID token. Never the session token."""

    type: str = "logged-in"
    pool_id: str
    code: str | None = None


class Done(msgspec.Struct, frozen=True, kw_only=True):
    """What the done page needs of the session it shows."""

    session_id: str
    code: str | None = None


def identifier_node(
    pool: PoolView, theme: Theme, value: str | None, errors: Sequence[Msg]
) -> FormNode:
    phone = accepts_phone(pool)
    label = (
        "ui.identifier_phone"
        if identifier_is_phone(pool)
        else "ui.identifier_email_or_phone"
        if phone
        else "ui.identifier_email"
    )
    return FormNode(
        type="input",
        name="identifier",
        input_type="text" if phone else "email",
        label=Msg(id=label, level="info").text(theme.copy),
        required=True,
        value=value or "",
        attributes={"autocomplete": "username", "maxlength": "320", "autofocus": ""},
        messages=tuple(errors),
    )


def password_node(theme: Theme, errors: Sequence[Msg]) -> FormNode:
    return FormNode(
        type="input",
        name="password",
        input_type="password",
        label=Msg(id="ui.password_label", level="info").text(theme.copy),
        required=True,
        value=None,
        attributes={"autocomplete": "current-password"},
        messages=tuple(errors),
    )


def render_login(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    *,
    app: login.LoginApp | None,
    fragment: bool,
    top_level: bool = False,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    done: Done | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[str]:
    ids = FlowIds(
        flow_id=flow.id,
        csrf_token=csrf_token(ctx.services, flow.id),
        flow_ticket=login.FLOW.ticket_for(ctx.services, flow),
        parent_origin=flow.parent_origin,
    )
    per_request = dict(ids._asdict())
    # The links under the form carry the origin too, URL-encoded.
    per_request["origin_q"] = quote_plus(flow.parent_origin) if flow.parent_origin else None
    if done is not None:
        per_request |= {
            "code": done.code,
            "logout_csrf": logout_csrf(ctx.services, done.session_id),
        }
    untouched = not values and not errors and not alerts and flow.state in ("form", "done")

    app_layer = theme_app(pool, flow.app_id)

    def draw(slots: Mapping[str, str | None]) -> str:
        theme = ctx.renderer.theme(pool, app_layer)
        shown = Done(session_id="", code=slots.get("code")) if done is not None else None
        view = _state_view(
            ctx, pool, flow, theme, values or {}, errors or {}, shown, slots["origin_q"]
        )
        if shown is not None:
            view["logout_csrf"] = slots["logout_csrf"]
        return ctx.renderer.page(
            "flows/login_card.html" if fragment else "flows/login.html",
            pool=pool,
            theme=theme,
            **ctx.renderer.texts(theme),
            flow_id=slots["flow_id"],
            csrf_token=slots["csrf_token"],
            flow_ticket=slots["flow_ticket"],
            parent_origin=slots["parent_origin"],
            # URL-encoded parent origin (or its placeholder) for links in the template.
            origin_q=slots["origin_q"],
            alerts=tuple(alerts),
            full_page=top_level,
            theme_app=app_layer,
            **view,
        )

    if untouched:
        key = (flow.state, pool.id, pool.version, fragment, top_level, flow.app_id)
        body = _PAGES.get(ctx.renderer, key, per_request, draw)
    else:
        body = draw(per_request)
    return html(pool, body, status, **framing(app), **(headers or {}))


class _PageCache:
    """Login pages are the same for every visitor of a pool but for a few per-request
    values (flow id, CSRF token, ticket, parent origin; on the done page the code and the
    logout token): rendered once per (renderer, state, pool version, layout, app, which
    values are present) with placeholders, then filled in, as ``Renderer`` does for the
    registration form (a render is ~0.5 ms; a substitution microseconds)."""

    def __init__(self) -> None:
        self._pages: weakref.WeakKeyDictionary[object, dict[tuple[object, ...], str]] = (
            weakref.WeakKeyDictionary()
        )

    def get(
        self,
        owner: object,
        key: tuple[object, ...],
        values: Mapping[str, str | None],
        draw: Callable[[Mapping[str, str | None]], str],
    ) -> str:
        pages = self._pages.setdefault(owner, {})
        full_key = (*key, *(bool(v) for v in values.values()))
        page = pages.get(full_key)
        if page is None:
            if len(pages) > 4096:
                pages.clear()  # pools change rarely; a full cache means churn, start over
            page = pages[full_key] = draw({k: slot(k) if v else None for k, v in values.items()})
        known = {k: str(escape(v)) for k, v in values.items() if v}
        # One pass, so a substituted value is never read as a placeholder.
        return _SLOTS.sub(lambda m: known.get(m.group(1), m.group(0)), page)


_PAGES = _PageCache()
_SLOTS = re.compile(r"__ws_([a-z_]+?)__")


def framing(app: login.LoginApp | None) -> dict[str, str]:
    """An app's login may be framed by the app's origins only (its code goes there)."""
    if app is None:
        return {}
    return {"content-security-policy": frame_ancestors(app.allowed_origins)}


def _state_view(
    ctx: WebContext,
    pool: PoolView,
    flow: Flow,
    theme: Theme,
    values: Mapping[str, str],
    errors: Mapping[str, Sequence[Msg]],
    done: Done | None,
    origin_q: str | None,
) -> dict[str, Any]:
    """The template variables of ``flow.state``; ``origin_q`` is the URL-encoded parent
    origin (or its placeholder) for the links under the form."""
    origin = flow.parent_origin
    if flow.state == "form":
        query = f"?parent_origin={origin_q}" if origin_q else ""
        register = f"/embed/{pool.id}/register{query}"
        return {
            "state": "form",
            "action": login_path(pool),
            "nodes": [
                identifier_node(
                    pool, theme, values.get("identifier"), errors.get("identifier", ())
                ),
                password_node(theme, errors.get("password", ())),
            ],
            "recover_url": f"/embed/{pool.id}/recover{query}",
            "register_url": register if pool.self_registration else None,
        }
    if flow.state == "done":
        event = None
        if origin is not None and done is not None:
            built = msgspec.to_builtins(LoggedInEvent(pool_id=pool.id, code=done.code))
            # No "code" key at all without an app: nothing for a page to mistake for one.
            event = {k: v for k, v in built.items() if v is not None}
        switch = f"?parent_origin={origin_q}&prompt=login" if origin_q else "?prompt=login"
        if flow.app_id:
            switch += "&client_id=" + quote_plus(flow.app_id)
        return {
            "state": "done",
            "event": event,
            "switch_url": login_path(pool) + switch,
            "logout_action": f"/embed/{pool.id}/logout",
            "logout_csrf": logout_csrf(ctx.services, done.session_id) if done else None,
            "signed_in_as": shown_identifier(flow.data.get("identifier")),
        }
    if flow.state == "mfa":
        return mfa_view(ctx.services, pool, flow, values, errors)
    return {"state": flow.state}


def shown_identifier(identifier: str | None) -> str | None:
    """A phone number masked (``+49 ••• ••56``), as the code step shows it; an email whole."""
    if not identifier or "@" in identifier:
        return identifier
    return masked(identifier)


class LoggedOutEvent(msgspec.Struct, frozen=True, kw_only=True):
    type: str = "logged-out"
    pool_id: str


def render_signed_out(
    ctx: WebContext,
    pool: PoolView,
    *,
    parent_origin: str | None,
    fragment: bool,
    alerts: Sequence[Msg],
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    state: str = "ended",
) -> Response[str]:
    """After a logout (``ended``), or a logout that was refused (``refused``)."""
    theme = ctx.renderer.theme(pool)
    origin = parent_origin if pool.allows_origin(parent_origin) else None
    signed_out = state == "ended" and origin is not None
    event = msgspec.to_builtins(LoggedOutEvent(pool_id=pool.id)) if signed_out else None
    body = ctx.renderer.page(
        "flows/login_card.html" if fragment else "flows/login.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        state=state,
        alerts=tuple(alerts),
        parent_origin=origin,
        login_url=with_query(login_path(pool), parent_origin=origin),
        event=event,
        full_page=False,
    )
    return html(pool, body, status, **(headers or {}))
