"""The developer portal's frame: who is signed in (the operator portal's sessions, under
a cookie of its own), the page layout, CSRF, and the error page.

A domain error a page does not handle itself becomes an error page with the status
``shared.errors.explain`` gives; ``NotAuthenticated`` sends the browser to sign in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Response
from litestar.datastructures import Cookie

from widget_server.admin.access import PERMISSIONS, Action, Actor
from widget_server.admin.apps import app_pool_ids
from widget_server.admin.portal_auth import PortalSession, principal_for_session
from widget_server.errors import CsrfMismatch, Forbidden, NotAuthenticated, WidgetError
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.web.shared import console
from widget_server.web.shared.console import AnyRequest, Form, checked_form, html, is_htmx
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.request_io import client_ip

BASE = "/developers"
COOKIE = "ws_dev"


def session_cookie(value: str, *, max_age: int | None) -> Cookie:
    return console.session_cookie(COOKIE, BASE, value, max_age=max_age)


class DevPortal:
    """One signed-in request: the developer, their actor for the services, their pools."""

    def __init__(self, request: AnyRequest, session: PortalSession, pools: list[PoolView]) -> None:
        self.request = request
        self.session = session
        self.pools = pools
        self.ctx: WebContext = web_context(request)
        self.actor = Actor(principal=session.principal, ip=client_ip(request))

    @property
    def services(self) -> Services:
        return self.ctx.services

    def can(self, action: Action) -> bool:
        return action in PERMISSIONS[self.session.principal.role]

    def page(
        self,
        template: str,
        *,
        status: int = 200,
        fragment: str | None = None,
        headers: Mapping[str, str] | None = None,
        folder: str = "developers",
        **context: Any,
    ) -> Response[str]:
        """The full page, or only ``fragment`` (a partial template) for an htmx request;
        templates from ``widgets/<folder>/``."""
        name = fragment if fragment is not None and is_htmx(self.request) else template
        body = self.ctx.renderer.page(
            f"{folder}/{name}", **self.view(), http_status=status, **context
        )
        return html(body, status, headers)

    def view(self) -> dict[str, Any]:
        return {
            "me": self.session.principal,
            "my_email": self.session.email,
            "csrf_token": self.session.csrf_token,
            "t": _text,
            "path": self.request.url.path,
            "my_pools": self.pools,
            "base": BASE,
        }


def _text(message: Msg) -> str:
    return message.text()


async def signed_in(request: AnyRequest) -> DevPortal:
    """The signed-in developer (or operator) of this request; ``NotAuthenticated`` without
    a session, ``Forbidden`` for a principal whose role has no apps."""
    ctx = web_context(request)
    session = await principal_for_session(ctx.services, request.cookies.get(COOKIE))
    actor = Actor(principal=session.principal, ip=client_ip(request))
    if "apps.read" not in PERMISSIONS[session.principal.role]:
        raise Forbidden("apps.read")
    pools = [await ctx.services.pools.get(p) for p in await app_pool_ids(ctx.services, actor)]
    portal = DevPortal(request, session, pools)
    request.state.dev_portal = portal  # for error_page
    return portal


async def form_of(portal: DevPortal) -> Form:
    return await checked_form(portal.request, portal.session)


def error_page(request: AnyRequest, exc: WidgetError) -> Response[Any]:
    if isinstance(exc, NotAuthenticated):
        target = f"{BASE}/login"
        if is_htmx(request):
            return html("", 401, {"hx-redirect": target})
        return console.see_other(target)
    said = explain(exc)
    messages = (msg("admin.csrf"),) if isinstance(exc, CsrfMismatch) else said.messages
    portal: DevPortal | None = request.state.get("dev_portal")
    if portal is None:
        body = web_context(request).renderer.page(
            "developers/error.html",
            http_status=said.status,
            messages=messages,
            me=None,
            t=_text,
            base=BASE,
        )
        return html(body, said.status, said.headers)
    return portal.page("error.html", status=said.status, headers=said.headers, messages=messages)
