"""Try it: the real registration and login against the draft, in a sandbox.

``POST /admin/branding/themes/{id}/try`` takes the editor's whole form (the "Try it"
button posts it, like the preview, into a new tab), resolves the unsaved tokens in the
chosen pool's context (``preview_theme``: the same checks as the preview, so only people
who may read the theme there get one), opens a sandbox (``branding/sandbox.py``) and
sends the browser to its page with the sandbox's cookie, whose ``Path`` is the
sandbox's own ``/embed/{id}``.

``GET /admin/branding/try/{id}`` frames the sandbox's widget (register or sign in) and
lists the messages it would have sent, codes first, refreshed by htmx. Only the portal
session that opened a sandbox sees it; anyone else gets a 404. ``POST .../close`` ends
it. The widget pages themselves are served by ``web/tryit.py``.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from litestar import Response, get, post
from litestar.datastructures import Cookie
from litestar.params import PathParameter, QueryParameter

from widget_server.branding.catalogue import visible_theme
from widget_server.branding.preview import preview_theme
from widget_server.branding.sandbox import COOKIE, Sandbox, Sandboxes, is_sandbox_id
from widget_server.errors import NotFound
from widget_server.themes import load_builtin_themes
from widget_server.web.shared.console import AnyRequest, one, see_other
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in
from widget_server.web.studio.preview import ThemeId
from widget_server.web.studio.themes import EDITOR_HEADERS
from widget_server.web.studio.tokens_form import tokens_from_form

SandboxId = Annotated[str, PathParameter(max_length=64)]
View = Annotated[Literal["register", "login"], QueryParameter(name="view")]
TRY = BASE + "/branding/try"


def _sandboxes(request: AnyRequest) -> Sandboxes:
    found: Sandboxes = request.app.state.sandboxes
    return found


@post(BASE + "/branding/themes/{theme_id:str}/try", status_code=303)
async def open_sandbox(request: AnyRequest, theme_id: ThemeId) -> Response[str]:
    portal = await signed_in(request)
    form = await form_of(portal)
    pool_id = one(form, "preview.pool")
    if not pool_id:
        raise NotFound("pool")
    services = portal.services
    found = await preview_theme(
        services, portal.actor, theme_id, tokens_from_form(form), pool_id=pool_id
    )
    sandbox = await _sandboxes(request).open(
        services,
        session_hash=portal.session.token_hash,
        pool=await services.pools.get(pool_id),
        theme=found.theme,
        theme_id=theme_id,
        theme_name=await _theme_name(portal, theme_id),
    )
    return see_other(f"{TRY}/{sandbox.id}", cookies=[_cookie(sandbox)])


@get(TRY + "/{sandbox_id:str}")
async def show_sandbox(
    request: AnyRequest, sandbox_id: SandboxId, view: View = "register"
) -> Response[str]:
    portal = await signed_in(request)
    sandbox = await _mine(portal, sandbox_id)
    origin = services_origin(portal)
    return portal.page(
        "tryit.html",
        folder="studio",
        # It frames the sandbox's widget (same origin); nothing frames it.
        headers=EDITOR_HEADERS,
        sandbox=sandbox,
        view=view,
        frame_src=f"/embed/{sandbox.id}/{view}?{urlencode({'parent_origin': origin})}",
        messages=await sandbox.messages(),
        minutes_left=max(
            0, int((sandbox.expires_at - portal.services.clock.now()).total_seconds()) // 60
        ),
    )


@get(TRY + "/{sandbox_id:str}/mail")
async def sandbox_mail(request: AnyRequest, sandbox_id: SandboxId) -> Response[str]:
    """The sandbox's messages (the list htmx refreshes; a page of its own without htmx)."""
    portal = await signed_in(request)
    sandbox = await _mine(portal, sandbox_id)
    return portal.page(
        "tryit_mail.html",
        fragment="_tryit_mail.html",
        folder="studio",
        sandbox=sandbox,
        messages=await sandbox.messages(),
    )


@post(TRY + "/{sandbox_id:str}/close", status_code=303)
async def close_sandbox(request: AnyRequest, sandbox_id: SandboxId) -> Response[str]:
    portal = await signed_in(request)
    await form_of(portal)  # the CSRF check
    sandbox = await _mine(portal, sandbox_id)
    await _sandboxes(request).close(sandbox.id)
    gone = Cookie(key=COOKIE, value="", path=f"/embed/{sandbox.id}", max_age=0, secure=True)
    return see_other(f"{BASE}/branding/themes/{sandbox.theme_id}", cookies=[gone])


async def _mine(portal: Portal, sandbox_id: str) -> Sandbox:
    """The sandbox if this session opened it; a 404 for anyone else (and for a closed one)."""
    found = None
    if is_sandbox_id(sandbox_id):
        found = await _sandboxes(portal.request).find(sandbox_id, portal.services.clock.now())
    if found is None or not found.owned_by(portal.session.token_hash):
        raise NotFound("sandbox")
    return found


async def _theme_name(portal: Portal, theme_id: str) -> str:
    builtin = load_builtin_themes().get(theme_id)
    if builtin is not None:
        return builtin.name
    async with portal.services.db.read() as session:
        record = await visible_theme(
            portal.services, session, portal.actor, "themes.read", theme_id
        )
    return record.name


def _cookie(sandbox: Sandbox) -> Cookie:
    seconds = int((sandbox.expires_at - sandbox.services.clock.now()).total_seconds())
    # HttpOnly, Strict and only sent to the sandbox's own pages.
    return Cookie(
        key=COOKIE,
        value=sandbox.secret,
        path=f"/embed/{sandbox.id}",
        max_age=max(seconds, 0),
        httponly=True,
        secure=True,
        samesite="strict",
    )


def services_origin(portal: Portal) -> str:
    url = portal.services.settings.public_url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


HANDLERS = [open_sandbox, show_sandbox, sandbox_mail, close_sandbox]
