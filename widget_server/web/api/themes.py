"""``/api/admin/themes``: the brand studio's themes for a design system's CI — the
built-ins and custom themes, drafts, publish, history, rollback, and one-file export and
import. Brand designers and tenant admins (pool admins of a pool the tenant lets them
brand, for its own themes); themes outside the key's scope answer 404 and are audited.

Every handler first checks the role alone (``require_role``: 403 for a role that never
may), then the service scopes what it reads or changes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.params import JSONBody, PathParameter, QueryParameter

from widget_server.branding import catalogue, exchange, publishing
from widget_server.branding.access import require_role
from widget_server.branding.catalogue import DraftEdit, NewTheme, ThemeDetail, ThemeSummary
from widget_server.branding.contrast import ContrastCheck
from widget_server.branding.exchange import Imported, ThemeDocument
from widget_server.branding.publishing import Published, VersionDetail, VersionView
from widget_server.web.api.base import CurrentActor, api_services, errors

ThemeId = Annotated[str, PathParameter(max_length=64)]
VersionNumber = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
PlaceId = Annotated[str | None, QueryParameter(max_length=64)]
TAGS = ["themes"]


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    theme_id: str
    #: Send it back with a save (``PUT``) or a publish so neither overwrites a newer draft.
    revision: int
    tokens: dict[str, Any]
    #: WCAG 2.2 AA of the draft's colour pairs (light, then dark).
    contrast: list[ContrastCheck]


class PublishRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: Publish even though colour pairs fail WCAG 2.2 AA (recorded with the version).
    acknowledge_contrast: bool = False
    #: The draft revision the caller saw; 409 if it has changed since.
    revision: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None


class RollbackRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: The earlier version to publish again (as a new version).
    version: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
    acknowledge_contrast: bool = False


@get("/themes", responses=errors(403), tags=TAGS)
async def list_themes(request: Request[Any, Any, Any], actor: CurrentActor) -> list[ThemeSummary]:
    """The built-in themes (read-only), then the custom themes in the key's scope."""
    return await catalogue.list_themes(api_services(request), actor)


@post("/themes", responses=errors(403, 422, body=True), tags=TAGS)
async def create_theme(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewTheme]
) -> ThemeDetail:
    """Copy a built-in (all its tokens) or a custom theme (its draft) into a new custom
    theme, at the key's scope or the workspace or pool named inside it."""
    services = api_services(request)
    await require_role(services, actor, "themes.write")
    return await catalogue.create_theme(services, actor, data)


@get("/themes/{theme_id:str}", responses=errors(403, 404), tags=TAGS)
async def get_theme(
    request: Request[Any, Any, Any], actor: CurrentActor, theme_id: ThemeId
) -> ThemeDetail:
    services = api_services(request)
    await require_role(services, actor, "themes.read")
    return await catalogue.get_theme(services, actor, theme_id)


@delete("/themes/{theme_id:str}", responses=errors(403, 404, 409), tags=TAGS)
async def delete_theme(
    request: Request[Any, Any, Any], actor: CurrentActor, theme_id: ThemeId
) -> None:
    """Delete a custom theme and its history; 409 while it is assigned anywhere."""
    services = api_services(request)
    await require_role(services, actor, "themes.write")
    await catalogue.delete_theme(services, actor, theme_id)


@get("/themes/{theme_id:str}/draft", responses=errors(403, 404), tags=TAGS)
async def get_draft(
    request: Request[Any, Any, Any], actor: CurrentActor, theme_id: ThemeId
) -> Draft:
    services = api_services(request)
    await require_role(services, actor, "themes.read")
    return _draft(await catalogue.get_theme(services, actor, theme_id))


@put("/themes/{theme_id:str}/draft", responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def put_draft(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    theme_id: ThemeId,
    data: JSONBody[DraftEdit],
) -> Draft:
    """Replace the draft's token layer and/or rename the theme. Nothing goes live; every
    token passes the theme grammar (422 names the token); a stale ``revision`` is 409."""
    services = api_services(request)
    await require_role(services, actor, "themes.write")
    return _draft(await catalogue.save_draft(services, actor, theme_id, data))


@post(
    "/themes/{theme_id:str}/publish",
    status_code=200,
    responses=errors(403, 404, 409, 422, body=True),
    tags=TAGS,
)
async def publish_theme(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    theme_id: ThemeId,
    data: JSONBody[PublishRequest],
) -> Published:
    """Make the draft live as a new version. A draft below WCAG 2.2 AA answers 409
    ``brand.contrast_failures`` unless ``acknowledge_contrast`` (then recorded); a token
    naming a missing file answers 422 with the token."""
    services = api_services(request)
    await require_role(services, actor, "themes.publish")
    return await publishing.publish_theme(
        services,
        actor,
        theme_id,
        accept_contrast_failures=data.acknowledge_contrast,
        revision=data.revision,
    )


@get("/themes/{theme_id:str}/versions", responses=errors(403, 404, 409), tags=TAGS)
async def history(
    request: Request[Any, Any, Any], actor: CurrentActor, theme_id: ThemeId
) -> list[VersionView]:
    """Every published version, newest first, with who published it and when."""
    services = api_services(request)
    await require_role(services, actor, "themes.read")
    return await publishing.theme_history(services, actor, theme_id)


@get("/themes/{theme_id:str}/versions/{number:int}", responses=errors(403, 404, 409), tags=TAGS)
async def get_version(
    request: Request[Any, Any, Any], actor: CurrentActor, theme_id: ThemeId, number: VersionNumber
) -> VersionDetail:
    services = api_services(request)
    await require_role(services, actor, "themes.read")
    return await publishing.get_version(services, actor, theme_id, number)


@post(
    "/themes/{theme_id:str}/rollback",
    status_code=200,
    responses=errors(403, 404, 409, 422, body=True),
    tags=TAGS,
)
async def rollback(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    theme_id: ThemeId,
    data: JSONBody[RollbackRequest],
) -> Published:
    """Publish an earlier version again, as a new version; the draft becomes its tokens."""
    services = api_services(request)
    await require_role(services, actor, "themes.publish")
    return await publishing.rollback_theme(
        services,
        actor,
        theme_id,
        data.version,
        accept_contrast_failures=data.acknowledge_contrast,
    )


@get("/themes/{theme_id:str}/export", responses=errors(403, 404), tags=TAGS)
async def export_theme(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    theme_id: ThemeId,
    draft: Annotated[bool, QueryParameter()] = False,
) -> Response[ThemeDocument]:
    """The live version (the draft with ``draft=true``, or before the first publish) as
    one JSON file with its images and fonts embedded: keep it in git, import it elsewhere."""
    services = api_services(request)
    await require_role(services, actor, "themes.read")
    data = await exchange.export_theme(services, actor, theme_id, draft=draft)
    document = msgspec.json.decode(data, type=ThemeDocument)
    filename = "".join(c if c.isalnum() or c in "-_" else "-" for c in theme_id)[:64]
    return Response(
        document,
        headers={"content-disposition": f'attachment; filename="theme-{filename}.json"'},
    )


@post("/themes/import", responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def import_theme(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    data: JSONBody[ThemeDocument],
    into: Annotated[str | None, QueryParameter(max_length=64)] = None,
    workspace_id: PlaceId = None,
    pool_id: PlaceId = None,
    publish: Annotated[bool, QueryParameter()] = False,
    acknowledge_contrast: Annotated[bool, QueryParameter()] = False,
) -> Imported:
    """A theme file (``GET …/export``) as a new theme, or as the new draft of ``into``;
    published at once with ``publish=true``. Every embedded file must hash to its stated
    SHA-256 and pass the upload checks, every token the grammar (422 by field)."""
    services = api_services(request)
    await require_role(services, actor, "themes.write")
    if publish:
        await require_role(services, actor, "themes.publish")
    return await exchange.import_theme(
        services,
        actor,
        msgspec.json.encode(data),
        into=into,
        workspace_id=workspace_id,
        pool_id=pool_id,
        publish=publish,
        accept_contrast_failures=acknowledge_contrast,
    )


def _draft(detail: ThemeDetail) -> Draft:
    return Draft(
        theme_id=detail.summary.id,
        revision=detail.summary.draft_revision,
        tokens=detail.draft,
        contrast=detail.contrast,
    )


HANDLERS = [
    list_themes,
    create_theme,
    import_theme,
    get_theme,
    delete_theme,
    get_draft,
    put_draft,
    publish_theme,
    history,
    get_version,
    rollback,
    export_theme,
]
