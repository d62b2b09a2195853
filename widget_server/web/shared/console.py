"""What the two consoles for people with an admin principal share (the operator portal
under ``/admin``, the developer portal under ``/developers``): their responses (never
framed, never cached), the session cookie, and the checks on every posted form.

Both keep the same sessions (``admin/portal_auth.py``); each has its own cookie, scoped
to its path, so signing in to one does not sign in to the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Redirect

from widget_server.admin.access import Principal
from widget_server.admin.portal_auth import (
    MAX_EMAIL,
    PortalSession,
    authenticate_person,
    csrf_matches,
)
from widget_server.auth.throttle import LoginThrottle
from widget_server.errors import CsrfMismatch, NotAuthenticated, Overloaded, TooManyAttempts
from widget_server.messages import Msg, msg
from widget_server.web.shared.context import web_context
from widget_server.web.shared.request_io import client_ip, first, form_fields
from widget_server.web.shared.security import frame_ancestors

Form = Mapping[str, Sequence[str]]
AnyRequest = Request[Any, Any, Any]


def html(body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response[str]:
    return Response(
        body,
        status_code=status,
        media_type=MediaType.HTML,
        headers={
            "content-security-policy": frame_ancestors(()),
            "vary": "HX-Request",
            "cache-control": "no-store",
            **(headers or {}),
        },
    )


def see_other(location: str, *, cookies: Sequence[Cookie] = ()) -> Response[Any]:
    return Redirect(
        location,
        status_code=303,
        cookies=list(cookies),
        headers={"vary": "HX-Request", "cache-control": "no-store"},
    )


def session_cookie(name: str, path: str, value: str, *, max_age: int | None) -> Cookie:
    # HttpOnly: scripts never see it. Strict: no cross-site request carries it. Path: it is
    # not sent to the widget, the API or the other console.
    return Cookie(
        key=name,
        value=value,
        path=path,
        httponly=True,
        secure=True,
        samesite="strict",
        max_age=max_age,
    )


def same_origin_post(request: AnyRequest) -> bool:
    """Refuse posts a browser says came from another site (defence beside the token)."""
    if request.headers.get("sec-fetch-site") in {"cross-site", "same-site"}:
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


async def checked_form(request: AnyRequest, session: PortalSession) -> Form:
    """The posted form, after the CSRF checks; raises ``CsrfMismatch``."""
    raw = await form_fields(request)
    tokens = raw.pop("csrf_token", [])
    if not same_origin_post(request) or len(tokens) != 1 or not csrf_matches(session, tokens[0]):
        raise CsrfMismatch()
    return raw


def one(form: Form, name: str, default: str = "") -> str:
    values = form.get(name) or ()
    return values[0] if values else default


def is_htmx(request: AnyRequest) -> bool:
    # A history restore (back button after hx-push-url) needs the whole page.
    headers = request.headers
    return headers.get("hx-request") == "true" and "hx-history-restore-request" not in headers


class SignIn(NamedTuple):
    """A posted sign-in form, checked: the principal, or what to tell the person."""

    fields: dict[str, list[str]]
    email: str
    principal: Principal | None
    alert: Msg | None = None
    status: int = 200


async def sign_in(request: AnyRequest) -> SignIn:
    """Both consoles' sign-in: the same-origin check (a cross-site post could sign the
    browser in as the attacker: login CSRF), then ``authenticate_person`` under the
    portal throttle; each refusal with its message and status."""
    fields = await form_fields(request)
    email = str(first(fields, "email"))[: MAX_EMAIL + 1]
    password = str(first(fields, "password"))
    if not same_origin_post(request):
        return SignIn(fields, email, None, msg("admin.csrf"), 403)
    throttle: LoginThrottle = request.app.state.admin_login_throttle
    services = web_context(request).services
    try:
        principal = await authenticate_person(
            services, email, password, ip=client_ip(request), throttle=throttle
        )
    except TooManyAttempts as exc:
        return SignIn(fields, email, None, exc.message, 429)
    except NotAuthenticated:
        return SignIn(fields, email, None, msg("admin.login_failed"), 401)
    except Overloaded as exc:
        return SignIn(fields, email, None, exc.message, 503)
    return SignIn(fields, email, principal)
