"""Signing in and out of the portal, and the dashboard a person lands on."""

from __future__ import annotations

from typing import Any

from litestar import get, post

from widget_server.admin.pools import list_pools
from widget_server.admin.portal_auth import (
    end_session,
    start_session,
)
from widget_server.errors import NotAuthenticated
from widget_server.messages import Msg, msg
from widget_server.web.shared.console import AnyRequest, html, see_other, sign_in
from widget_server.web.shared.context import web_context
from widget_server.web.shared.portal_frame import (
    BASE,
    COOKIE,
    form_of,
    session_cookie,
    signed_in,
)
from widget_server.web.shared.request_io import first

#: Statuses in the order the dashboard lists them.
STATUSES = ("active", "new", "inactive", "deleted")


def _login_page(
    request: AnyRequest, *, email: str = "", alert: Msg | None = None, status: int = 200
) -> Any:
    flash = request.query_params.get("done")
    notice = msg(flash, "info") if flash in {"admin.signed_out", "admin.session_expired"} else None
    body = web_context(request).renderer.page(
        "admin/login.html",
        email=email,
        alert=alert,
        notice=notice,
        next=_safe_next(request.query_params.get("next")),
        t=lambda m: m.text(),
        me=None,
    )
    headers = {"retry-after": str(alert.params["seconds"])} if status == 429 and alert else {}
    return html(body, status, headers)


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal: never another host (``//evil``) or scheme."""
    if not target or len(target) > 500 or not target.startswith(BASE + "/"):
        return BASE
    if target.startswith("//") or "\\" in target or any(ord(c) < 33 for c in target):
        return BASE
    return target


@get(BASE + "/login")
async def login_form(request: AnyRequest) -> Any:
    if request.cookies.get(COOKIE):
        try:
            await signed_in(request)
            return see_other(BASE)
        except NotAuthenticated:
            pass
    return _login_page(request)


@post(BASE + "/login", status_code=200)
async def login(request: AnyRequest) -> Any:
    attempt = await sign_in(request)
    if attempt.principal is None:
        return _login_page(
            request, email=attempt.email, alert=attempt.alert, status=attempt.status
        )
    token = await start_session(web_context(request).services, attempt.principal)
    # A browser-session cookie: closing the browser signs out; the server ends it anyway
    # after admin_session_hours or an idle hour.
    cookie = session_cookie(token, max_age=None)
    return see_other(_safe_next(str(first(attempt.fields, "next"))), cookies=[cookie])


@post(BASE + "/logout", status_code=200)
async def logout(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    await end_session(portal.services, request.cookies.get(COOKIE))
    return see_other(BASE + "/login?done=admin.signed_out", cookies=[session_cookie("", max_age=0)])


@get(BASE)
async def dashboard(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    if not portal.can("pools.read") and portal.may_brand:
        # A brand designer's work is all in the studio.
        return see_other(BASE + "/branding")
    pools = await list_pools(portal.services, portal.actor)
    return portal.page("dashboard.html", pools=pools, statuses=STATUSES, title="Pools")


HANDLERS = [
    login_form,
    login,
    logout,
    dashboard,
]
