"""The editor's live preview: unsaved tokens in, a page of the product out.

``POST /admin/branding/themes/{id}/preview`` takes the editor's whole form (the studio's
script posts it into the preview iframe as the designer types), resolves it with
``branding.preview.preview_theme`` in the chosen pool's context, and draws the chosen
state from the real templates (``samples.py``). The answer is a page of its own, never a
live widget: sandboxed (no script, no same-origin, no form posts: CSP ``sandbox`` and
``form-action 'none'``, and the iframe's ``sandbox`` attribute), framed only by the
studio, and not cached. Its stylesheet is inline under a nonce because no URL serves an
unsaved theme; it is ``themes.css_variables`` of a checked theme, so it cannot close the
element or fetch from elsewhere.

``POST .../check`` answers the same form with the contrast badges and token errors
(htmx swaps them beside the controls).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from litestar import Response, post
from litestar.params import PathParameter
from markupsafe import Markup

from widget_server.branding.preview import Preview, preview_theme
from widget_server.errors import InvalidInput
from widget_server.messages import Msg
from widget_server.web.shared.console import AnyRequest, html, one
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in
from widget_server.web.studio.editor_view import FIELD_NAMES, badges, dom_id
from widget_server.web.studio.samples import sample
from widget_server.web.studio.tokens_form import tokens_from_form

SCHEMES = ("auto", "light", "dark")

ThemeId = Annotated[str, PathParameter(max_length=64)]


def preview_csp(nonce: str | None) -> str:
    style = f"'self' 'nonce-{nonce}'" if nonce else "'unsafe-inline'"
    return (
        f"default-src 'none'; style-src {style}; img-src 'self' data:; font-src 'self'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox"
    )


def _page(body: str, nonce: str | None, status: int = 200) -> Response[str]:
    return html(body, status, {"content-security-policy": preview_csp(nonce)})


@post(BASE + "/branding/themes/{theme_id:str}/preview", status_code=200)
async def show_preview(request: AnyRequest, theme_id: ThemeId) -> Response[str]:
    portal = await signed_in(request)
    form = await form_of(portal)
    pool_id = one(form, "preview.pool") or None
    try:
        found = await preview_theme(
            portal.services, portal.actor, theme_id, tokens_from_form(form), pool_id=pool_id
        )
    except InvalidInput as exc:
        body = portal.ctx.renderer.page(
            "studio/preview_invalid.html", messages=exc.messages, t=lambda m: m.text()
        )
        return _page(body, None, 422)
    if pool_id is None:
        body = portal.ctx.renderer.page("studio/preview_invalid.html", messages={}, t=str)
        return _page(body, None)
    return await _draw(portal, found, pool_id, one(form, "preview.state"), one(form, "scheme"))


async def _draw(
    portal: Portal, found: Preview, pool_id: str, state: str, scheme: str
) -> Response[str]:
    pool = await portal.services.pools.get(pool_id)
    minutes = portal.services.settings.code_ttl_seconds // 60
    drawn = sample(portal.ctx.renderer, pool, found.theme, state, minutes)
    if drawn.template is None:
        return _page(drawn.email_html or "", None)
    # A fresh nonce per answer; the CSS holds no "<" (the token grammars allow none).
    nonce = secrets.token_urlsafe(16)
    css = found.css if "<" not in found.css else ""
    body = portal.ctx.renderer.page(
        drawn.template,
        **drawn.context,
        preview_css=Markup(css),  # noqa: S704 (checked tokens only, see the docstring)
        preview_nonce=nonce,
        color_scheme=scheme if scheme in ("light", "dark") else None,
    )
    return _page(body, nonce)


@post(BASE + "/branding/themes/{theme_id:str}/check", status_code=200)
async def check_draft(request: AnyRequest, theme_id: ThemeId) -> Response[str]:
    """Contrast badges and token errors of the unsaved form, for htmx to swap in."""
    portal = await signed_in(request)
    form = await form_of(portal)
    pool_id = one(form, "preview.pool") or None
    errors: dict[str, list[Msg]] = {}
    contrast: list[Any] = []
    try:
        found = await preview_theme(
            portal.services, portal.actor, theme_id, tokens_from_form(form), pool_id=pool_id
        )
        contrast = list(found.contrast)
    except InvalidInput as exc:
        errors = {k: list(v) for k, v in exc.messages.items()}
    return portal.page(
        "_checks.html",
        fragment="_checks.html",
        folder="studio",
        contrast=contrast,
        errors=errors,
        badges_of=badges,
        field_names=FIELD_NAMES,
        dom_id=dom_id,
    )


HANDLERS = [show_preview, check_draft]
