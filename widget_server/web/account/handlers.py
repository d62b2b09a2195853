"""The account portal's handlers: check the session and the CSRF token, decode, call one
service, render.

One URL per action under ``/embed/{pool}/account``. A plain form post that succeeds gets a
303 back to the page (``?done=<what>`` names the notice to show); HTMX gets the card. A
refused post gets the page again with the messages by field and the values typed
(passwords never), with the error's status. No live session: a prompt to sign in (401);
a missing or foreign CSRF token: 403 and nothing done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter
from litestar.response import Redirect

from widget_server.account import addresses, password, profile, session_list
from widget_server.account.csrf import check_csrf
from widget_server.auth import mfa, sessions
from widget_server.auth.sessions import SessionView
from widget_server.errors import CsrfMismatch, InvalidInput, NotSignedIn, WidgetError
from widget_server.flows.inputs import Password
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.web.account.views import (
    Feedback,
    account_path,
    render_account,
    render_signed_out,
)
from widget_server.web.shared.context import WebContext, login_throttle, mfa_throttle, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.params import CurrentPool, OriginParam
from widget_server.web.shared.request_io import (
    client_ip,
    decode_form,
    form_fields,
    is_htmx,
    single,
    with_query,
)
from widget_server.web.shared.security import normalise_origin, origin_of_url

log = logging.getLogger(__name__)

PATH = "/embed/{pool_id:str}/account"
DoneParam = Annotated[str | None, QueryParameter(name="done", max_length=32)]
Token = Annotated[str, msgspec.Meta(max_length=128)]
Origin = Annotated[str, msgspec.Meta(max_length=255)]
Short = Annotated[str, msgspec.Meta(max_length=1024)]
Id = Annotated[str, msgspec.Meta(max_length=64)]

#: ``?done=`` after a 303: which section says what. Only these ids, never free text.
DONE: dict[str, tuple[str, str]] = {
    "profile": ("profile", "account.saved"),
    "password": ("password", "account.password_changed"),
    "address_sent": ("addresses", "account.address_code_sent"),
    "address_added": ("addresses", "account.address_verified"),
    "address_removed": ("addresses", "account.address_removed"),
    "session_ended": ("sessions", "account.session_ended"),
    "sessions_ended": ("sessions", "account.sessions_ended"),
    "mfa_on": ("mfa", "mfa.enrolled"),
    "mfa_off": ("mfa", "mfa.disabled"),
}


class _Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    csrf_token: Token
    parent_origin: Origin | None = None


class PasswordPost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    current_password: Password = ""
    new_password: Password = ""


class AddressPost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    address: Short = ""


class CodePost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(max_length=32)] = ""


class RemovePost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    address_id: Id


class SessionPost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    session_id: Id


class PlainPost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class DisablePost(_Base, frozen=True, kw_only=True, forbid_unknown_fields=True):
    password: Password = ""


class Done(msgspec.Struct, frozen=True, kw_only=True):
    """A successful action: its ``DONE`` key, and what the response needs beyond it."""

    key: str
    #: A rotated session (password change): its cookie goes on the response.
    token: str | None = None
    enrolment: mfa.Enrolment | None = None
    notice: Msg | None = None


class Call(msgspec.Struct, frozen=True, kw_only=True):
    """One POST as the action functions see it."""

    ctx: Any  # WebContext
    request: Any  # Request
    pool: PoolView
    live: SessionView
    form: dict[str, list[str]]


Action = Callable[[Call], Awaitable[Done]]


# --- the page ---------------------------------------------------------------------------


@get(PATH)
async def show_account(
    request: Request[Any, Any, Any],
    pool: CurrentPool,
    parent_origin: OriginParam = None,
    done: DoneParam = None,
) -> Response[str]:
    ctx = web_context(request)
    origin = normalise_origin(parent_origin) or origin_of_url(request.headers.get("referer"))
    fragment = is_htmx(request)
    live = await _live(ctx, request, pool)
    if live is None:
        return render_signed_out(ctx, pool, fragment=fragment, parent_origin=origin)
    feedback = None
    if done in DONE:
        section, message_id = DONE[done]
        feedback = Feedback(section=section, notice=await _notice(ctx, pool, live, message_id))
    try:
        return await render_account(
            ctx, pool, live, fragment=fragment, parent_origin=origin, feedback=feedback
        )
    except NotSignedIn:
        return render_signed_out(ctx, pool, fragment=fragment, parent_origin=origin)


async def _notice(ctx: WebContext, pool: PoolView, live: SessionView, message_id: str) -> Msg:
    if message_id == "account.address_code_sent":
        _, pending = await addresses.list_addresses(ctx.services, pool, live.user_id)
        return msg(message_id, "info", address=pending.address if pending else "")
    return msg(message_id, "info")


async def _live(
    ctx: WebContext, request: Request[Any, Any, Any], pool: PoolView
) -> SessionView | None:
    token = sessions.read_session_token(request, pool.id)
    return await sessions.current_session(ctx.services, token, pool.id)


# --- one POST, whatever the action --------------------------------------------------------


async def _handle(
    request: Request[Any, Any, Any], pool: PoolView, section: str, action: Action
) -> Response[str]:
    ctx = web_context(request)
    fragment = is_htmx(request)
    raw = await form_fields(request)
    origin = normalise_origin(single(raw, "parent_origin"))
    live = await _live(ctx, request, pool)
    if live is None:
        return render_signed_out(ctx, pool, fragment=fragment, parent_origin=origin)
    try:
        check_csrf(ctx.services, live.id, single(raw, "csrf_token"))
    except CsrfMismatch:
        log.warning("account: refused a post without this session's CSRF token (%s)", section)
        refused = Feedback(section=section, errors={"": (msg("account.csrf"),)})
        return await render_account(
            ctx, pool, live, fragment=fragment, parent_origin=origin, feedback=refused, status=403
        )
    try:
        done = await action(Call(ctx=ctx, request=request, pool=pool, live=live, form=raw))
    except NotSignedIn:
        return render_signed_out(ctx, pool, fragment=fragment, parent_origin=origin)
    except WidgetError as exc:
        said = explain(exc)
        # The account page shows form-level messages at the top of the section (``""``).
        errors = {"": said.alerts, **said.errors} if said.alerts else said.errors
        feedback = Feedback(section=section, errors=errors, values=_typed(raw))
        return await render_account(
            ctx,
            pool,
            live,
            fragment=fragment,
            parent_origin=origin,
            feedback=feedback,
            status=said.status,
            headers=said.headers,
        )
    return await _succeeded(ctx, pool, live, section, done, fragment, origin)


async def _succeeded(
    ctx: WebContext,
    pool: PoolView,
    live: SessionView,
    section: str,
    done: Done,
    fragment: bool,
    origin: str | None,
) -> Response[str]:
    headers: dict[str, str] = {}
    if done.token is not None:
        headers["set-cookie"] = sessions.session_cookie(
            pool.id, done.token, pool.session_lifetime_seconds
        )
        rotated = await sessions.current_session(ctx.services, done.token, pool.id)
        live = rotated or live
    # A new TOTP seed is shown once, in this response: a redirect would lose it.
    if not fragment and done.enrolment is None:
        target = with_query(account_path(pool), done=done.key, parent_origin=origin)
        return Redirect(f"{target}#{section}", status_code=303, headers=headers)
    _, message_id = DONE.get(done.key, (section, ""))
    notice = done.notice or (msg(message_id, "info") if message_id else None)
    feedback = Feedback(section=section, notice=notice, enrolment=done.enrolment)
    return await render_account(
        ctx, pool, live, fragment=fragment, parent_origin=origin, feedback=feedback, headers=headers
    )


def _typed(raw: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """What to put back into the fields: every single value but passwords and tokens."""
    secret = ("password", "csrf_token", "code")
    return {k: v[0] for k, v in raw.items() if len(v) == 1 and not any(s in k for s in secret)}


def _fields(form: Mapping[str, list[str]]) -> dict[str, list[str]]:
    return {k: v for k, v in form.items() if k not in ("csrf_token", "parent_origin")}


# --- the actions --------------------------------------------------------------------------


async def _profile(call: Call) -> Done:
    await profile.update_profile(
        call.ctx.services, call.pool, call.live.user_id, _fields(call.form)
    )
    return Done(key="profile")


async def _password(call: Call) -> Done:
    submitted: PasswordPost = decode_form(call.form, PasswordPost)
    token, _ = await password.change_password(
        call.ctx.services,
        call.pool,
        call.live,
        submitted.current_password,
        submitted.new_password,
        throttle=login_throttle(call.request),
        ip=client_ip(call.request),
        user_agent=call.request.headers.get("user-agent"),
    )
    return Done(key="password", token=token)


async def _add_address(call: Call) -> Done:
    submitted: AddressPost = decode_form(call.form, AddressPost)
    pending = await addresses.add_address(
        call.ctx.services, call.pool, call.live.user_id, submitted.address
    )
    notice = msg("account.address_code_sent", "info", address=pending.address)
    return Done(key="address_sent", notice=notice)


async def _verify_address(call: Call) -> Done:
    submitted: CodePost = decode_form(call.form, CodePost)
    await addresses.verify_address(call.ctx.services, call.pool, call.live.user_id, submitted.code)
    return Done(key="address_added")


async def _remove_address(call: Call) -> Done:
    submitted: RemovePost = decode_form(call.form, RemovePost)
    await addresses.remove_address(
        call.ctx.services, call.pool, call.live.user_id, submitted.address_id
    )
    return Done(key="address_removed")


async def _end_session(call: Call) -> Done:
    submitted: SessionPost = decode_form(call.form, SessionPost)
    if submitted.session_id == call.live.id or not await session_list.end_one(
        call.ctx.services, call.live, submitted.session_id
    ):
        # This browser signs out with the sign-out button (it clears the cookie too).
        raise InvalidInput({"": [msg("account.session_unknown")]})
    return Done(key="session_ended")


async def _end_others(call: Call) -> Done:
    decode_form(call.form, PlainPost)
    await session_list.end_others(call.ctx.services, call.live)
    return Done(key="sessions_ended")


async def _begin_totp(call: Call) -> Done:
    decode_form(call.form, PlainPost)
    if call.pool.mfa == "off":
        raise InvalidInput({"": [msg("mfa.not_offered")]})
    listed, _ = await addresses.list_addresses(call.ctx.services, call.pool, call.live.user_id)
    # How the authenticator app lists the account: the sign-in address, as users know it.
    account = next((a.value for a in listed if a.primary), None) or call.live.user_id
    enrolment = await mfa.begin_totp(call.ctx.services, call.live.user_id, account, call.pool.name)
    return Done(key="mfa_begin", enrolment=enrolment, notice=msg("mfa.scan", "info"))


async def _confirm_totp(call: Call) -> Done:
    submitted: CodePost = decode_form(call.form, CodePost)
    throttle = mfa_throttle(call.request)
    await mfa.confirm_totp(
        call.ctx.services, call.live.user_id, submitted.code, throttle, pool=call.pool
    )
    return Done(key="mfa_on")


async def _disable_totp(call: Call) -> Done:
    submitted: DisablePost = decode_form(call.form, DisablePost)
    await mfa.disable_totp(
        call.ctx.services, call.live.user_id, submitted.password, pool=call.pool
    )
    return Done(key="mfa_off")


def _route(suffix: str, section: str, action: Action) -> Any:
    @post(PATH + suffix, status_code=200, name=f"account{suffix.replace('/', '-')}")
    async def handler(request: Request[Any, Any, Any], pool: CurrentPool) -> Response[str]:
        return await _handle(request, pool, section, action)

    return handler


HANDLERS = [
    show_account,
    _route("/profile", "profile", _profile),
    _route("/password", "password", _password),
    _route("/addresses", "addresses", _add_address),
    _route("/addresses/verify", "addresses", _verify_address),
    _route("/addresses/remove", "addresses", _remove_address),
    _route("/sessions/end", "sessions", _end_session),
    _route("/sessions/end-others", "sessions", _end_others),
    _route("/mfa/totp", "mfa", _begin_totp),
    _route("/mfa/totp/confirm", "mfa", _confirm_totp),
    _route("/mfa/totp/disable", "mfa", _disable_totp),
]
