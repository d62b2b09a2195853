"""The admin portal's frame, shared by the surfaces under ``/admin`` (the operator portal,
``web/portal``, and the brand studio, ``web/studio``): who is signed in, the page layout
and its navigation, CSRF, and how domain errors become pages.

A domain error a page does not handle itself becomes an error page with the status
``shared.errors.explain`` gives (forms catch ``InvalidInput`` and ``Conflict`` first and
show them by field or above the form). ``NotAuthenticated`` is the exception: a 303 to
the sign-in page (htmx: ``HX-Redirect`` with 401); a stale CSRF token says ``admin.csrf``.

Every page is ``frame-ancestors 'none'``, ``no-store`` and ``Vary: HX-Request``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from litestar import Response
from litestar.datastructures import Cookie

from widget_server.admin.access import PERMISSIONS, Action, Actor, tenant_wide
from widget_server.admin.pools import list_pools
from widget_server.admin.portal_auth import (
    PortalSession,
    principal_for_session,
)
from widget_server.errors import (
    CsrfMismatch,
    NotAuthenticated,
    PoolNotFound,
    WidgetError,
)
from widget_server.messages import Msg, msg
from widget_server.services import Services
from widget_server.web.shared import console
from widget_server.web.shared.console import (
    AnyRequest,
    Form,
    checked_form,
    html,
    is_htmx,
    see_other,
)
from widget_server.web.shared.context import WebContext, web_context
from widget_server.web.shared.errors import explain
from widget_server.web.shared.request_io import client_ip

COOKIE = "ws_admin"
BASE = "/admin"


class Portal:
    """One signed-in request: the person, their actor for the services, and page helpers."""

    def __init__(
        self,
        request: AnyRequest,
        session: PortalSession,
        nav_pools: Sequence[NavPool],
        *,
        may_brand: bool = False,
    ) -> None:
        self.request = request
        self.session = session
        self.nav_pools = nav_pools
        #: The "Branding" entry: designers, tenant admins, pool admins the tenant lets brand.
        self.may_brand = may_brand
        self.ctx: WebContext = web_context(request)
        self.actor = Actor(principal=session.principal, ip=client_ip(request))

    @property
    def services(self) -> Services:
        return self.ctx.services

    def can(self, action: Action) -> bool:
        return action in PERMISSIONS[self.session.principal.role]

    @property
    def is_tenant_admin(self) -> bool:
        return tenant_wide(self.session.principal) and self.can("pools.write")

    def page(
        self,
        template: str,
        *,
        status: int = 200,
        fragment: str | None = None,
        headers: Mapping[str, str] | None = None,
        folder: str = "admin",
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
        principal = self.session.principal
        return {
            "me": principal,
            "my_email": self.session.email,
            "csrf_token": self.session.csrf_token,
            "can": self.can,
            "is_tenant_admin": self.is_tenant_admin,
            "may_brand": self.may_brand,
            "t": _text,
            "path": self.request.url.path,
            "nav_pools": self.nav_pools,
            "flash": _flash(self.request),
            "base": BASE,
        }


def _text(message: Msg) -> str:
    return message.text()


FLASHES = frozenset(
    {
        "admin.saved",
        "admin.signed_out",
        "admin.session_expired",
        "admin.pool_created",
        "admin.pool_deleted",
        "admin.user_created",
        "admin.user_deleted",
        "admin.user_updated",
        "admin.invitation_sent",
        "admin.sessions_revoked",
        "admin.admin_revoked",
        "admin.schema_saved",
        "admin.schema_deleted",
        "studio.saved",
        "studio.published",
        "studio.rolled_back",
        "studio.assigned",
        "studio.imported",
        "studio.deleted",
        "studio.workspace_saved",
        "studio.workspace_deleted",
        "jobs.queued",
        "jobs.cancelled",
    }
)


def _flash(request: AnyRequest) -> Msg | None:
    # A message id in the query after a 303 (``?done=admin.saved``); only known ids, so a
    # link cannot put arbitrary text on the page.
    done = request.query_params.get("done")
    return msg(done, "info") if done in FLASHES else None


def session_cookie(value: str, *, max_age: int | None) -> Cookie:
    return console.session_cookie(COOKIE, BASE, value, max_age=max_age)


class NavPool(NamedTuple):
    id: str
    name: str


async def signed_in(request: AnyRequest) -> Portal:
    """The signed-in person of this request, or ``NotAuthenticated``."""
    ctx = web_context(request)
    session = await principal_for_session(ctx.services, request.cookies.get(COOKIE))
    actor = Actor(principal=session.principal, ip=client_ip(request))
    # The sidebar lists only pools the person may open: no link leads to a 404. A brand
    # designer opens none (its pools appear in the studio).
    pools = []
    if "pools.read" in PERMISSIONS[session.principal.role]:
        pools = await list_pools(ctx.services, actor)
    nav = [NavPool(p.id, p.name) for p in pools]
    portal = Portal(request, session, nav, may_brand=await _may_brand(ctx.services, actor))
    request.state.portal = portal  # for error_page
    return portal


async def _may_brand(services: Services, actor: Actor) -> bool:
    principal = actor.principal
    if "themes.read" in PERMISSIONS[principal.role]:
        return True
    if principal.role != "pool_admin" or principal.pool_id is None:
        return False
    try:
        return (await services.pools.get(principal.pool_id)).admins_may_brand
    except PoolNotFound:
        return False


async def form_of(portal: Portal) -> Form:
    """The posted form, after the CSRF checks; raises ``CsrfMismatch``."""
    return await checked_form(portal.request, portal.session)


# --- Errors -------------------------------------------------------------------------------


def error_page(request: AnyRequest, exc: WidgetError) -> Response[Any]:
    """The router's handler for every domain error a page did not handle itself.

    Litestar calls it synchronously, so it draws the signed-in layout only when the page
    got as far as ``signed_in`` (which leaves the ``Portal`` on the request)."""
    if isinstance(exc, NotAuthenticated):
        return _to_login(request)
    said = explain(exc)
    status, headers = said.status, said.headers
    messages = (msg("admin.csrf"),) if isinstance(exc, CsrfMismatch) else said.messages
    portal: Portal | None = request.state.get("portal")
    if portal is None:
        body = web_context(request).renderer.page(
            "admin/error.html", http_status=status, messages=messages, me=None, t=_text
        )
        return html(body, status, headers)
    return portal.page("error.html", status=status, headers=headers, messages=messages)


def _to_login(request: AnyRequest) -> Response[Any]:
    expired = COOKIE in request.cookies
    target = f"{BASE}/login" + ("?done=admin.session_expired" if expired else "")
    clear = [session_cookie("", max_age=0)] if expired else []
    if is_htmx(request):
        response = html("", 401, {"hx-redirect": target})
        for cookie in clear:
            response.set_cookie(cookie)
        return response
    return see_other(target, cookies=clear)
