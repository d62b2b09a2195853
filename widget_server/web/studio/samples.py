"""Every page and state the product draws, as the studio's preview shows them: the real
templates in ``widgets/`` with sample data, in a draft theme.

The widget's own view code builds these variables from stored flows; here the same
templates get made-up values (a sample person, a wrong code, a throttled sign-in) and
the pool's real schema, so each step of the chosen pool is previewed as it is. Nothing
is read from or written to the database. A state is chosen by id (``STATES``); an
unknown id falls back to the first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from jinja2 import Environment
from markupsafe import Markup

from widget_server.account.addresses import AddressView
from widget_server.account.session_list import SessionRow
from widget_server.flows.registration import credential_step
from widget_server.forms import FormNode, identifier_field, steps_of
from widget_server.mail.compose import Composer
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.themes import Theme
from widget_server.web.shared.render import Renderer, step_view

SAMPLE_EMAIL = "ada@example.com"
_NOW = datetime(2026, 5, 4, 9, 30)


class State(NamedTuple):
    id: str
    group: str
    label: str


class Sample(NamedTuple):
    """What to draw: a page template and its variables, or an email's HTML."""

    template: str | None
    context: dict[str, Any]
    email_html: str | None = None


def states(pool: PoolView) -> list[State]:
    """The states to choose from; one per step of ``pool``'s registration schema."""
    steps = steps_of(pool.schema)
    found = [
        State(f"register.step.{i}", "Registration", f"Step {i + 1}: {s.title or s.id}")
        for i, s in enumerate(steps)
    ]
    return found + [State(key, group, label) for key, group, label in _FIXED]


_FIXED = (
    ("register.errors", "Registration", "Field errors"),
    ("register.checklist", "Registration", "Password checklist"),
    ("register.code", "Registration", "Code entry"),
    ("register.wrong_code", "Registration", "Wrong code"),
    ("register.done", "Registration", "Done"),
    ("login.form", "Sign-in", "Form"),
    ("login.failed", "Sign-in", "Failed"),
    ("login.throttled", "Sign-in", "Throttled"),
    ("login.mfa", "Sign-in", "Second factor"),
    ("login.done", "Sign-in", "Signed in"),
    ("recovery.identify", "Recovery", "Ask for a code"),
    ("recovery.code", "Recovery", "Code entry"),
    ("recovery.password", "Recovery", "New password"),
    ("recovery.done", "Recovery", "Done"),
    ("consent", "Consent", "App asks for access"),
    ("account", "Account", "Account portal"),
    ("error.unknown_pool", "Errors", "Unknown pool"),
    ("error.closed", "Errors", "Sign-up closed"),
    ("error.expired", "Errors", "Expired flow"),
    ("error.frame_refused", "Errors", "Frame refused"),
    ("email.activation_code", "Emails", "Activation code"),
    ("email.already_registered", "Emails", "Notice (already registered)"),
    ("email.recovery_code", "Emails", "Recovery code"),
    ("email.password_changed", "Emails", "Security notice"),
)


def sample(
    renderer: Renderer, pool: PoolView, theme: Theme, state: str, code_minutes: int
) -> Sample:
    """The template and variables of ``state`` for ``pool`` in ``theme``."""
    if state.startswith("email."):
        return Sample(None, {}, _email(renderer.env, pool, theme, state.removeprefix("email.")))
    base: dict[str, Any] = {
        "pool": pool,
        "theme": theme,
        **renderer.texts(theme),
        "flow_id": "",
        "csrf_token": "",
        "flow_ticket": None,
        "parent_origin": None,
        # The page as a tab of its own: the page background (colour or image) shows too.
        "full_page": True,
        "alerts": (),
        "code_minutes": code_minutes,
    }
    builder = _BUILDERS.get(state)
    if builder is None:
        index = int(state.rpartition(".")[2]) if state.startswith("register.step.") else 0
        return _registration_step(pool, theme, base, index)
    return builder(pool, theme, base)


# --- registration -------------------------------------------------------------------------


def _password_node(pool: PoolView, theme: Theme, errors: tuple[Msg, ...]) -> FormNode:
    return FormNode(
        type="input",
        name="password",
        input_type="password",
        label=msg("ui.password_label", "info").text(theme.copy),
        required=True,
        value=None,
        attributes={"autocomplete": "new-password"},
        messages=errors,
        rules=tuple(pool.policy.help()),
    )


def _registration_step(
    pool: PoolView,
    theme: Theme,
    base: dict[str, Any],
    index: int,
    errors: dict[str, list[Msg]] | None = None,
    alerts: tuple[Msg, ...] = (),
) -> Sample:
    steps = steps_of(pool.schema)
    step = steps[min(max(index, 0), len(steps) - 1)]
    identifier = identifier_field(pool.schema)
    errors = errors or {}
    password = None
    if step.id == credential_step(pool):
        password = _password_node(pool, theme, tuple(errors.get("password", ())))
    values = {identifier: SAMPLE_EMAIL} if errors else {}
    view = step_view(pool, step.id, values, errors, password, identifier)
    context = base | view | {"action": "#", "alerts": alerts}
    return Sample("flows/registration.html", context)


def _register_errors(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    identifier = identifier_field(pool.schema)
    errors = {identifier: [msg("form.email_invalid")], "password": [msg("form.required")]}
    index = _credential_index(pool)
    return _registration_step(pool, theme, base, index, errors)


def _register_checklist(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    index = _credential_index(pool)
    errors = {"password": [msg("password.too_short", min=pool.policy.min_length)]}
    return _registration_step(pool, theme, base, index, errors)


def _credential_index(pool: PoolView) -> int:
    step_id = credential_step(pool)
    return next((i for i, s in enumerate(steps_of(pool.schema)) if s.id == step_id), 0)


def _code(base: dict[str, Any], errors: tuple[Msg, ...]) -> dict[str, Any]:
    alerts = () if errors else (msg("registration.check_email", "info", address=SAMPLE_EMAIL),)
    return base | {
        "state": "code",
        "code_action": "#",
        "resend_action": "#",
        "code_errors": errors,
        "code_channel": "email",
        "alerts": alerts,
        "step_index": -1,
    }


def _register_code(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return Sample("flows/registration.html", _code(base, ()))


def _register_wrong_code(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return Sample("flows/registration.html", _code(base, (msg("code.invalid", remaining=2),)))


def _register_done(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    # ``after``: what the partner offers next (flows/after_registration.py); the notice
    # alone here, as for a pool that sets nothing.
    context = base | {
        "state": "done",
        "address": SAMPLE_EMAIL,
        "event": None,
        "step_index": -1,
        "after": None,
    }
    return Sample("flows/registration.html", context)


def _closed(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    context = base | {"state": "closed", "alerts": (msg("registration.disabled"),)}
    return Sample("flows/registration.html", context)


def _expired(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return _registration_step(pool, theme, base, 0, alerts=(msg("flow.expired"),))


# --- sign-in --------------------------------------------------------------------------------


def _login_nodes(theme: Theme, errors: tuple[Msg, ...] = ()) -> list[FormNode]:
    identifier = FormNode(
        type="input",
        name="identifier",
        input_type="email",
        label=Msg(id="ui.identifier_email", level="info").text(theme.copy),
        required=True,
        value=SAMPLE_EMAIL if errors else "",
        attributes={"autocomplete": "username"},
        messages=(),
    )
    password = FormNode(
        type="input",
        name="password",
        input_type="password",
        label=Msg(id="ui.password_label", level="info").text(theme.copy),
        required=True,
        value=None,
        attributes={"autocomplete": "current-password"},
        messages=errors,
    )
    return [identifier, password]


def _login(base: dict[str, Any], pool: PoolView, theme: Theme, alerts: tuple[Msg, ...]) -> Sample:
    context = base | {
        "state": "form",
        "action": "#",
        "nodes": _login_nodes(theme, alerts),
        "recover_url": "#",
        "register_url": "#" if pool.self_registration else None,
        "alerts": alerts,
    }
    return Sample("flows/login.html", context)


def _login_form(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return _login(base, pool, theme, ())


def _login_failed(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return _login(base, pool, theme, (msg("login.failed"),))


def _login_throttled(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return _login(base, pool, theme, (msg("login.throttled", seconds=30),))


def _login_mfa(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    context = base | {
        "state": "mfa",
        "mfa_action": "#",
        "mfa_send_action": "#",
        "mfa_totp": True,
        "mfa_email": SAMPLE_EMAIL,
        "mfa_sent_to": None,
        "mfa_channel": "email",
        "mfa_method": "totp",
        "code_errors": (),
        "alerts": (msg("login.mfa_required", "info"),),
    }
    return Sample("flows/login.html", context)


def _login_done(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    context = base | {
        "state": "done",
        "event": None,
        "switch_url": "#",
        "logout_action": "#",
        "logout_csrf": "preview",
        "origin_q": None,
        "signed_in_as": SAMPLE_EMAIL,
    }
    return Sample("flows/login.html", context)


# --- recovery, consent, account, errors -----------------------------------------------------


def _recovery(state: str) -> Callable[[PoolView, Theme, dict[str, Any]], Sample]:
    def build(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
        context = base | {
            "state": state,
            "action": "#",
            "code_action": "#",
            "resend_action": "#",
            "password_action": "#",
            "login_url": "#",
            "code_errors": (),
            "nodes": [],
        }
        if state == "identify":
            context["nodes"] = _login_nodes(theme)[:1]
        elif state == "code":
            context["alerts"] = (msg("registration.check_email", "info", address=SAMPLE_EMAIL),)
        elif state == "password":
            context["nodes"] = [_password_node(pool, theme, ())]
        return Sample("flows/recovery.html", context)

    return build


def _consent(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    scopes = [{"scope": s, "granted": False} for s in ("openid", "email", "profile")]
    context = base | {
        "app_name": "Partner Shop",
        "user_label": SAMPLE_EMAIL,
        "user_markup": Markup('<strong class="ws-address">{}</strong>').format(SAMPLE_EMAIL),
        "scopes": scopes,
        "redirect_host": "shop.example",
    }
    return Sample("oauth/consent.html", context)


def _account(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    def none(section: str) -> dict[str, Any]:
        return {"section": section, "notice": None, "errors": {}, "values": {}, "enrolment": None}

    password = _password_node(pool, theme, ())
    current = FormNode(
        type="input",
        name="current_password",
        input_type="password",
        label=msg("ui.current_password", "info").text(theme.copy),
        required=True,
        value=None,
        attributes={"autocomplete": "current-password"},
        messages=(),
    )
    profile_nodes = _login_nodes(theme)[:1]
    context = base | {
        "state": "account",
        "action": "#",
        "csrf": "preview",
        "logout_action": "#",
        "logout_csrf": "preview",
        "feedback": none(""),
        "profile": {
            "nodes": profile_nodes,
            "shown": [("Email", SAMPLE_EMAIL)],
            "feedback": none("profile"),
            "editable": True,
            "stray": (),
        },
        "password": {"feedback": none("password"), "nodes": [current, password]},
        "addresses": {
            "feedback": none("addresses"),
            "rows": [
                AddressView(id="a1", kind="email", value=SAMPLE_EMAIL, verified=True, primary=True)
            ],
            "pending": None,
            "phone": False,
            "can_add": True,
            "address_errors": (),
            "code_errors": (),
            "typed": "",
        },
        "mfa": {
            "password_node": current,
            "feedback": none("mfa"),
            "mode": "optional",
            "totp": False,
            "pending": False,
            "enrolment": None,
            "code_errors": (),
        },
        "sessions": {
            "rows": [
                SessionRow(
                    id="s1",
                    created_at=_NOW - timedelta(hours=2),
                    last_seen_at=_NOW,
                    device="Firefox on macOS",
                    ip="203.0.113.7",
                    current=True,
                    second_factor=False,
                )
            ],
            "feedback": none("sessions"),
        },
        "when": lambda moment: moment.strftime("%d %b %Y, %H:%M UTC"),
    }
    return Sample("account/page.html", context)


def _unknown_pool(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    return Sample("error.html", base | {"message": msg("pool.not_found")})


def _frame_refused(pool: PoolView, theme: Theme, base: dict[str, Any]) -> Sample:
    """The widget's own page for a refused frame (web/widget/refused.py), as a partner
    whose origin is not allowed yet would see it."""
    origin = "https://shop.example"
    return Sample(
        "refused_frame.html",
        base
        | {
            "refused_origin": origin,
            "said": msg("embed.refused_origin", "error", pool=pool.name, origin=origin),
            "hint": msg("embed.refused_origin_help", "info", origin=origin),
            "portal": "/developers/embed-log",
        },
    )


_BUILDERS: dict[str, Callable[[PoolView, Theme, dict[str, Any]], Sample]] = {
    "register.errors": _register_errors,
    "register.checklist": _register_checklist,
    "register.code": _register_code,
    "register.wrong_code": _register_wrong_code,
    "register.done": _register_done,
    "login.form": _login_form,
    "login.failed": _login_failed,
    "login.throttled": _login_throttled,
    "login.mfa": _login_mfa,
    "login.done": _login_done,
    "recovery.identify": _recovery("identify"),
    "recovery.code": _recovery("code"),
    "recovery.password": _recovery("password"),
    "recovery.done": _recovery("done"),
    "consent": _consent,
    "account": _account,
    "error.unknown_pool": _unknown_pool,
    "error.closed": _closed,
    "error.expired": _expired,
    "error.frame_refused": _frame_refused,
}


# --- emails ---------------------------------------------------------------------------------


class _PreviewComposer(Composer):
    """The real composer, its theme the draft's instead of the pool's published one."""

    def __init__(self, env: Environment, theme: Theme) -> None:
        super().__init__(env)
        self._preview = theme

    def theme(self, pool: PoolView) -> Theme:
        return self._preview


def _email(env: Environment, pool: PoolView, theme: Theme, name: str) -> str:
    composer = _PreviewComposer(env, theme)
    if name == "already_registered":
        envelope = composer.already_registered(SAMPLE_EMAIL, pool)
    elif name == "recovery_code":
        envelope = composer.recovery_code(SAMPLE_EMAIL, "482913", pool, 10)
    elif name == "password_changed":
        envelope = composer.password_changed(SAMPLE_EMAIL, pool)
    else:
        envelope = composer.activation_code(SAMPLE_EMAIL, "482913", pool, 10)
    return envelope.body_html or ""
