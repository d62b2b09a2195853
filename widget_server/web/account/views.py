"""Draw the account portal: one card with a section per concern (profile, password,
addresses, two-step verification, sessions) and the sign-out button.

Every action re-renders the whole card (HTMX swaps ``#ws-card``): a password change
rotates the session, and with it every section's CSRF token, so a per-section swap would
leave stale tokens behind. Messages attach to the section that was used (``Feedback``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response

from widget_server.account import addresses, profile, session_list
from widget_server.account.csrf import account_csrf
from widget_server.auth import mfa
from widget_server.auth.sessions import SessionView, logout_csrf
from widget_server.forms import FormNode, nodes_for_step
from widget_server.forms.schema import as_text, properties
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.themes import Theme
from widget_server.web.account.qr import qr_svg
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.request_io import with_query
from widget_server.web.shared.responses import html

SECTIONS = ("profile", "password", "addresses", "mfa", "sessions")


def account_path(pool: PoolView) -> str:
    return f"/embed/{pool.id}/account"


class Feedback(msgspec.Struct, frozen=True, kw_only=True):
    """What one request has to say, by section: a notice or errors (by field, ``""`` for
    the section as a whole) and the values typed (never passwords)."""

    section: str | None = None
    notice: Msg | None = None
    errors: dict[str, tuple[Msg, ...]] = msgspec.field(default_factory=dict)
    values: dict[str, Any] = msgspec.field(default_factory=dict)
    enrolment: mfa.Enrolment | None = None


def when(moment: datetime) -> str:
    return moment.strftime("%d %b %Y, %H:%M UTC")


async def render_account(
    ctx: WebContext,
    pool: PoolView,
    live: SessionView,
    *,
    fragment: bool,
    parent_origin: str | None,
    feedback: Feedback | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[str]:
    feedback = feedback or Feedback()
    theme = ctx.renderer.theme(pool)
    view = await _view(ctx, pool, live, theme, feedback)
    origin = parent_origin if pool.allows_origin(parent_origin) else None
    body = ctx.renderer.page(
        "account/card.html" if fragment else "account/page.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        parent_origin=origin,
        state="account",
        full_page=False,
        **view,
    )
    return html(pool, body, status, **(headers or {}))


def render_signed_out(
    ctx: WebContext,
    pool: PoolView,
    *,
    fragment: bool,
    parent_origin: str | None,
    alert: Msg | None = None,
    status: int = 401,
) -> Response[str]:
    """No live session: a prompt to sign in (inside the widget, in the pool's theme)."""
    theme = ctx.renderer.theme(pool)
    origin = parent_origin if pool.allows_origin(parent_origin) else None
    body = ctx.renderer.page(
        "account/card.html" if fragment else "account/page.html",
        pool=pool,
        theme=theme,
        **ctx.renderer.texts(theme),
        parent_origin=origin,
        state="signin",
        full_page=False,
        alerts=(alert or msg("account.signed_out", "info"),),
        login_url=with_query(f"/embed/{pool.id}/login", parent_origin=origin),
    )
    return html(pool, body, status)


async def _view(
    ctx: WebContext, pool: PoolView, live: SessionView, theme: Theme, feedback: Feedback
) -> dict[str, Any]:
    services = ctx.services
    payload = await profile.load_payload(services, live.user_id)
    listed, pending = await addresses.list_addresses(services, pool, live.user_id)
    factors = await mfa.factor_state(services, live.user_id)
    sessions = await session_list.list_sessions(services, pool, live)

    def mine(section: str) -> Feedback:
        return feedback if feedback.section == section else Feedback()

    return {
        "action": account_path(pool),
        "csrf": account_csrf(services, live.id),
        "logout_action": f"/embed/{pool.id}/logout",
        "logout_csrf": logout_csrf(services, live.id),
        "feedback": feedback,
        "profile": _profile_view(pool, payload, mine("profile")),
        "password": _password_view(pool, theme, mine("password")),
        "addresses": _addresses_view(pool, listed, pending, mine("addresses")),
        "mfa": _mfa_view(pool, theme, factors, mine("mfa")),
        "sessions": {"rows": sessions, "feedback": mine("sessions")},
        "when": when,
    }


def _profile_view(pool: PoolView, payload: dict[str, Any], feedback: Feedback) -> dict[str, Any]:
    fields = profile.profile_fields(pool.schema)
    values = feedback.values if feedback.errors else payload
    nodes = nodes_for_step(fields.schema, profile.STEP, values, feedback.errors)
    props = properties(pool.schema)
    shown = [
        (props[name].get("title") or name, _shown_value(payload.get(name))) for name in fields.shown
    ]
    named = {node.name for node in nodes}
    # Errors for fields without an input (read-only, unknown) would vanish: list them above.
    stray = tuple(m for name, ms in feedback.errors.items() if name not in named for m in ms)
    return {
        "nodes": nodes,
        "shown": shown,
        "feedback": feedback,
        "editable": bool(nodes),
        "stray": tuple(m for m in stray if m not in feedback.errors.get("", ())),
    }


def _shown_value(value: object) -> str:
    if value is None or value == "":
        return "—"
    return as_text(value)


def _password_view(pool: PoolView, theme: Theme, feedback: Feedback) -> dict[str, Any]:
    errors = feedback.errors
    return {
        "feedback": feedback,
        "nodes": [
            _password_node(
                "current_password",
                msg("ui.current_password", "info").text(theme.copy),
                "current-password",
                errors.get("current_password", ()),
            ),
            msgspec.structs.replace(
                _password_node(
                    "new_password",
                    msg("ui.new_password_label", "info").text(theme.copy),
                    "new-password",
                    errors.get("new_password", ()),
                ),
                rules=tuple(pool.policy.help()),
            ),
        ],
    }


def _password_node(name: str, label: str, autocomplete: str, errors: Sequence[Msg]) -> FormNode:
    return FormNode(
        type="input",
        name=name,
        input_type="password",
        label=label,
        required=True,
        value=None,
        attributes={"autocomplete": autocomplete, "maxlength": "1024"},
        messages=tuple(errors),
    )


def _addresses_view(
    pool: PoolView,
    listed: list[addresses.AddressView],
    pending: addresses.Pending | None,
    feedback: Feedback,
) -> dict[str, Any]:
    typed = feedback.values.get("address") if feedback.errors else None
    return {
        "feedback": feedback,
        "rows": listed,
        "pending": pending,
        "phone": addresses.phone_allowed(pool),
        "can_add": len(listed) < addresses.MAX_ADDRESSES,
        "address_errors": feedback.errors.get("address", ()),
        "code_errors": feedback.errors.get("code", ()),
        "typed": typed if isinstance(typed, str) else "",
    }


def _mfa_view(
    pool: PoolView, theme: Theme, factors: mfa.FactorState, feedback: Feedback
) -> dict[str, Any]:
    label = msg("ui.current_password", "info").text(theme.copy)
    password_errors = feedback.errors.get("password", ())
    return {
        "password_node": _password_node("password", label, "current-password", password_errors),
        "feedback": feedback,
        "mode": pool.mfa,
        "totp": factors.totp,
        "pending": factors.totp_pending,
        "enrolment": feedback.enrolment,
        "qr": qr_svg(feedback.enrolment.uri) if feedback.enrolment else None,
        "code_errors": feedback.errors.get("code", ()),
    }
