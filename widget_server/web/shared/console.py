"""What the two consoles for people with an admin principal share (the operator portal
under ``/admin``, the developer portal under ``/developers``): their responses (never
framed, never cached), the session cookie, and the checks on every posted form.

Both keep the same sessions (``admin/portal_auth.py``); each has its own cookie, scoped
to its path, so signing in to one does not sign in to the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response import Redirect

from widget_server.admin.portal_auth import PortalSession, csrf_matches
from widget_server.errors import CsrfMismatch
from widget_server.web.shared.request_io import form_fields
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
