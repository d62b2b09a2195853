"""The studio's theme pages: the branding home, the editor, publish, history, rollback,
export and import, assignment, uploads, and which layer each token of a pool comes from.

Handlers are thin: each reads the form, calls one ``branding`` service, and renders or
redirects (303 with a flash id). Grammar errors come back keyed by token path and are
shown beside the control; a publish below AA contrast shows the failing pairs and one
"Publish anyway" button, which the backend records in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

from litestar import Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import PathParameter

from widget_server.branding.assets import FONT_MAX_BYTES, IMAGE_MAX_BYTES, upload_asset
from widget_server.branding.assignment import assign_theme, assignment_targets, token_origins_for
from widget_server.branding.catalogue import (
    DraftEdit,
    NewTheme,
    ThemeDetail,
    create_theme,
    delete_theme,
    get_theme,
    list_themes,
    save_draft,
)
from widget_server.branding.exchange import export_theme, import_theme
from widget_server.branding.layers import Level
from widget_server.branding.publishing import (
    VersionView,
    publish_theme,
    rollback_theme,
    theme_history,
)
from widget_server.branding.workspaces import list_workspaces
from widget_server.errors import Conflict, ContrastFailures, InvalidInput, NotFound
from widget_server.messages import Msg, msg
from widget_server.themes import load_builtin_themes
from widget_server.web.shared.console import AnyRequest, Form, one, see_other
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in
from widget_server.web.shared.security import frame_ancestors
from widget_server.web.studio.editor_view import dom_id, editor_context, form_values
from widget_server.web.studio.samples import states
from widget_server.web.studio.tokens_form import ASSET_TOKENS, tokens_from_form

HOME = BASE + "/branding"
THEME = HOME + "/themes/{theme_id:str}"
#: An upload's body: the largest file plus the form around it.
UPLOAD_LIMIT = IMAGE_MAX_BYTES + 64 * 1024
#: A theme file embeds its fonts and images, base64 (4/3 of their size).
IMPORT_LIMIT = 8 * 1024 * 1024

PoolId = Annotated[str, PathParameter(max_length=64)]
ThemeId = Annotated[str, PathParameter(max_length=64)]


#: The editor frames its own preview (same origin); nothing else frames or is framed.
EDITOR_HEADERS = {"content-security-policy": frame_ancestors(()) + "; frame-src 'self'"}


def theme_url(theme_id: str, tail: str = "") -> str:
    return f"{HOME}/themes/{theme_id}{tail}"


@get(HOME)
async def home(request: AnyRequest) -> Response[str]:
    portal = await signed_in(request)
    themes = await list_themes(portal.services, portal.actor)
    try:
        targets = await assignment_targets(portal.services, portal.actor)
    except NotFound:
        targets = []
    workspaces = []
    if portal.can("workspaces.read"):
        workspaces = await list_workspaces(portal.services, portal.actor)
    custom = []
    for summary in themes:
        if not summary.builtin:
            detail = await get_theme(portal.services, portal.actor, summary.id)
            versions = await theme_history(portal.services, portal.actor, summary.id)
            custom.append(CustomCard(detail, versions[0] if versions else None))
    return portal.page(
        "home.html",
        folder="studio",
        title="Branding",
        builtins=list(load_builtin_themes().values()),
        custom=custom,
        targets=targets,
        workspaces=workspaces,
        theme_names={t.id: t.name for t in themes},
    )


class CustomCard(NamedTuple):
    detail: ThemeDetail
    last: VersionView | None


@post(HOME + "/copy")
async def copy(request: AnyRequest) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    source = one(form, "copy_of")
    name = one(form, "name").strip() or f"Copy of {_name_of(source)}"
    detail = await create_theme(
        portal.services, portal.actor, NewTheme(name=name[:100], copy_of=source)
    )
    return see_other(theme_url(detail.summary.id))


def _name_of(theme_id: ThemeId) -> str:
    builtin = load_builtin_themes().get(theme_id)
    return builtin.name if builtin is not None else "theme"


@get(THEME)
async def editor(request: AnyRequest, theme_id: ThemeId) -> Response[str]:
    portal = await signed_in(request)
    detail = await get_theme(portal.services, portal.actor, theme_id)
    if detail.summary.builtin:
        return await _editor(portal, detail, None, {}, read_only=True)
    return await _editor(portal, detail, None, {})


async def _editor(
    portal: Portal,
    detail: ThemeDetail,
    form: Form | None,
    errors: dict[str, list[Msg]],
    *,
    status: int = 200,
    alerts: tuple[Msg, ...] = (),
    contrast_warning: ContrastFailures | None = None,
    read_only: bool = False,
) -> Response[str]:
    targets = await assignment_targets(portal.services, portal.actor)
    pools = [t for t in targets if t.level == "pool"]
    chosen = one(form, "preview.pool") if form is not None else ""
    pool = next((p for p in pools if p.id == chosen), pools[0] if pools else None)
    view = editor_context(detail, form_values(detail.resolved, form), errors)
    sample_states = states(await portal.services.pools.get(pool.id)) if pool is not None else []
    return portal.page(
        "editor.html",
        folder="studio",
        status=status,
        headers=EDITOR_HEADERS,
        title=detail.summary.name,
        theme=detail.summary,
        detail=detail,
        targets=targets,
        pools=pools,
        preview_pool=pool,
        states=sample_states,
        alerts=alerts,
        contrast_warning=contrast_warning,
        contrast_message=msg(
            "studio.contrast_warning",
            pairs=", ".join(contrast_warning.failures) if contrast_warning else "",
        ),
        read_only=read_only,
        **view,
    )


def _edit(form: Form) -> DraftEdit:
    revision = one(form, "revision")
    name = one(form, "name").strip()
    return DraftEdit(
        tokens=tokens_from_form(form),
        name=name[:100] or None,
        revision=int(revision) if revision.isdigit() else None,
    )


@post(THEME)
async def save(request: AnyRequest, theme_id: ThemeId) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        await save_draft(portal.services, portal.actor, theme_id, _edit(form))
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, theme_id, form, exc)
    return see_other(theme_url(theme_id) + "?done=studio.saved")


async def _refused(
    portal: Portal, theme_id: str, form: Form, exc: InvalidInput | Conflict
) -> Response[str]:
    detail = await get_theme(portal.services, portal.actor, theme_id)
    if isinstance(exc, InvalidInput):
        errors = {k: list(v) for k, v in exc.messages.items()}
        return await _editor(portal, detail, form, errors, status=422)
    return await _editor(portal, detail, form, {}, status=409, alerts=(exc.message,))


@post(THEME + "/publish")
async def publish(request: AnyRequest, theme_id: ThemeId) -> Response[Any]:
    """Save what the editor shows, then publish it; below AA only with the explicit accept."""
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        saved = await save_draft(portal.services, portal.actor, theme_id, _edit(form))
        await publish_theme(
            portal.services,
            portal.actor,
            theme_id,
            accept_contrast_failures=one(form, "accept_contrast") == "yes",
            revision=saved.summary.draft_revision,
        )
    except ContrastFailures as exc:
        detail = await get_theme(portal.services, portal.actor, theme_id)
        # The form's revision is stale now (the save above bumped it): show the saved one.
        return await _editor(portal, detail, None, {}, status=409, contrast_warning=exc)
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, theme_id, form, exc)
    return see_other(theme_url(theme_id) + "?done=studio.published")


@get(THEME + "/history")
async def history(request: AnyRequest, theme_id: ThemeId) -> Response[str]:
    portal = await signed_in(request)
    detail = await get_theme(portal.services, portal.actor, theme_id)
    versions = await theme_history(portal.services, portal.actor, theme_id)
    return portal.page(
        "history.html",
        folder="studio",
        title=f"History · {detail.summary.name}",
        theme=detail.summary,
        versions=versions,
        warning=None,
    )


@post(THEME + "/rollback")
async def rollback(request: AnyRequest, theme_id: ThemeId) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    number = one(form, "version")
    if not number.isdigit():
        raise InvalidInput({"version": [msg("brand.unknown_version", version=number[:10])]})
    try:
        await rollback_theme(
            portal.services,
            portal.actor,
            theme_id,
            int(number),
            accept_contrast_failures=one(form, "accept_contrast") == "yes",
        )
    except ContrastFailures as exc:
        detail = await get_theme(portal.services, portal.actor, theme_id)
        versions = await theme_history(portal.services, portal.actor, theme_id)
        return portal.page(
            "history.html",
            folder="studio",
            status=409,
            title=f"History · {detail.summary.name}",
            theme=detail.summary,
            versions=versions,
            warning=(int(number), exc),
        )
    return see_other(theme_url(theme_id) + "?done=studio.rolled_back")


@get(THEME + "/export")
async def export(request: AnyRequest, theme_id: ThemeId) -> Response[bytes]:
    portal = await signed_in(request)
    draft = request.query_params.get("draft") == "1"
    document = await export_theme(portal.services, portal.actor, theme_id, draft=draft)
    return Response(
        document,
        media_type="application/json",
        headers={
            "content-disposition": f'attachment; filename="theme-{theme_id[:36]}.json"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


@post(HOME + "/import", request_max_body_size=IMPORT_LIMIT)
async def import_(request: AnyRequest) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    upload = _upload_of(form, "file")
    if upload is None:
        raise InvalidInput({"file": [msg("studio.import_missing")]})
    imported = await import_theme(portal.services, portal.actor, await upload.read())
    return see_other(theme_url(imported.theme.summary.id) + "?done=studio.imported")


def _upload_of(form: Form, name: str) -> UploadFile | None:
    values: Any = form.get(name) or ()
    found = values[0] if values else None
    return found if isinstance(found, UploadFile) else None


@post(THEME + "/assign")
async def assign(request: AnyRequest, theme_id: ThemeId) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    level, _, target = one(form, "target").partition(":")
    if level not in ("tenant", "workspace", "pool", "app"):
        raise InvalidInput({"target": [msg("form.enum")]})
    chosen: Level = level  # type: ignore[assignment]
    keep = one(form, "unassign") != "yes"
    await assign_theme(portal.services, portal.actor, chosen, target, theme_id if keep else None)
    return see_other(theme_url(theme_id) + "?done=studio.assigned")


@post(THEME + "/delete")
async def delete(request: AnyRequest, theme_id: ThemeId) -> Response[Any]:
    portal = await signed_in(request)
    await form_of(portal)
    await delete_theme(portal.services, portal.actor, theme_id)
    return see_other(HOME + "?done=studio.deleted")


@post(THEME + "/upload", request_max_body_size=UPLOAD_LIMIT)
async def upload(request: AnyRequest, theme_id: ThemeId) -> Response[Any]:
    """A logo, background, favicon or font for token ``token``: stored by content (the
    assets service checks it), then, for htmx, the control's new value; otherwise saved
    into the draft at once."""
    portal = await signed_in(request)
    form = await form_of(portal)
    token = one(form, "token")
    if token not in ASSET_TOKENS:
        raise InvalidInput({"token": [msg("form.enum")]})
    file = _upload_of(form, f"upload.{token}") or _upload_of(form, "file")
    data = await file.read(max(IMAGE_MAX_BYTES, FONT_MAX_BYTES) + 1) if file else b""
    if file is None or not data:
        return _upload_answer(
            portal, theme_id, token, None, {token: [msg("studio.upload_missing")]}
        )
    try:
        stored = await upload_asset(portal.services, portal.actor, file.filename or "", data)
    except InvalidInput as exc:
        errors = {token: [m for ms in exc.messages.values() for m in ms]}
        return _upload_answer(portal, theme_id, token, None, errors)
    if portal.request.headers.get("hx-request") == "true":
        return _upload_answer(portal, theme_id, token, stored.sha256, {})
    detail = await get_theme(portal.services, portal.actor, theme_id)
    tokens = _with_asset(detail.draft, token, stored.sha256)
    await save_draft(portal.services, portal.actor, theme_id, DraftEdit(tokens=tokens))
    return see_other(theme_url(theme_id) + "?done=studio.saved")


def _with_asset(draft: dict[str, Any], token: str, sha256: str) -> dict[str, Any]:
    group, _, name = token.partition(".")
    tokens = dict(draft)
    tokens[group] = {**(tokens.get(group) or {}), name: sha256}
    return tokens


def _upload_answer(
    portal: Portal, theme_id: str, token: str, sha256: str | None, errors: dict[str, list[Msg]]
) -> Response[str]:
    status = 422 if errors else 200
    return portal.page(
        "_asset.html",
        fragment="_asset.html",
        folder="studio",
        status=status,
        token=token,
        sha256=sha256,
        errors=errors,
        dom_id=dom_id,
        upload_action=theme_url(theme_id, "/upload"),
    )


@get(HOME + "/pools/{pool_id:str}")
async def pool_origins(request: AnyRequest, pool_id: PoolId) -> Response[str]:
    portal = await signed_in(request)
    origins = await token_origins_for(portal.services, portal.actor, pool_id)
    targets = await assignment_targets(portal.services, portal.actor)
    pool = next((t for t in targets if t.level == "pool" and t.id == pool_id), None)
    return portal.page(
        "origins.html",
        folder="studio",
        title=f"Where {pool.name if pool else pool_id}'s theme comes from",
        pool=pool,
        origins=origins,
    )


HANDLERS = [
    home,
    copy,
    editor,
    save,
    publish,
    history,
    rollback,
    export,
    import_,
    assign,
    delete,
    upload,
    pool_origins,
]
