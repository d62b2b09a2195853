"""A theme to and from one JSON file, so brands keep themes in git and move them between
staging and production (``widget-server theme export`` / ``import``, and the API).

The file holds the tokens and every file they name, base64-encoded with its SHA-256::

    {"format": "widget-server-theme", "format_version": 1,
     "name": "ACME", "base": "default", "version": 3,
     "tokens": {...},
     "assets": [{"sha256": "...", "media_type": "image/png", "name": "logo.png",
                 "data": "iVBORw0..."}]}

An import trusts nothing in it: the JSON is decoded strictly, each file must hash to its
stated SHA-256 and pass the same content checks as an upload, and the tokens the same
grammar as a save. It creates a new theme (or replaces the draft of ``into``) and
publishes only when asked, with the same checks as a publish.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Any, Literal

import msgspec
from sqlalchemy import select

from widget_server.admin.access import Actor
from widget_server.branding.access import audits_refusals
from widget_server.branding.assets import inspect_upload, upload_asset
from widget_server.branding.catalogue import (
    DraftEdit,
    NewTheme,
    ThemeDetail,
    create_theme,
    get_theme,
    save_draft,
    visible_theme,
)
from widget_server.branding.publishing import Published, publish_theme
from widget_server.branding.tokens import check_tokens
from widget_server.errors import InvalidInput
from widget_server.messages import msg
from widget_server.models import BrandAsset
from widget_server.services import Services
from widget_server.themes import load_builtin_themes

FORMAT: Literal["widget-server-theme"] = "widget-server-theme"
FORMAT_VERSION: Literal[1] = 1
#: Enough for a font family and a few images at their size caps.
MAX_ASSETS = 16


class ExportedAsset(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    sha256: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
    media_type: Annotated[str, msgspec.Meta(max_length=32)]
    name: Annotated[str, msgspec.Meta(max_length=200)]
    data: str


class ThemeDocument(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: Literal["widget-server-theme"]
    format_version: Literal[1]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    base: Annotated[str, msgspec.Meta(max_length=64)]
    #: The published version exported, or None for a draft.
    version: int | None
    tokens: dict[str, Any]
    assets: Annotated[list[ExportedAsset], msgspec.Meta(max_length=MAX_ASSETS)] = msgspec.field(
        default_factory=list
    )


class Imported(msgspec.Struct, frozen=True, kw_only=True):
    theme: ThemeDetail
    #: The files stored (already stored ones included).
    assets: list[str]
    published: Published | None


@audits_refusals
async def export_theme(
    services: Services, actor: Actor, theme_id: str, *, draft: bool = False
) -> bytes:
    """The theme's live version (its draft when ``draft`` or before its first publish)
    as one JSON document with its files."""
    detail = await get_theme(services, actor, theme_id)
    summary = detail.summary
    live = not draft and detail.published is not None
    tokens = detail.published if live and detail.published is not None else detail.draft
    theme = check_tokens(tokens)
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(BrandAsset).where(
                    BrandAsset.tenant_id == actor.tenant_id,
                    BrandAsset.sha256.in_(set(theme.assets().values())),
                )
            )
        ).scalars()
        assets = [
            ExportedAsset(
                sha256=row.sha256,
                media_type=row.media_type,
                name=row.name,
                data=base64.b64encode(row.data).decode(),
            )
            for row in rows
        ]
    document = ThemeDocument(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        name=summary.name,
        base=summary.base,
        version=summary.published_version if live else None,
        tokens=tokens,
        assets=sorted(assets, key=lambda a: a.sha256),
    )
    return msgspec.json.format(msgspec.json.encode(document), indent=2) + b"\n"


@audits_refusals
async def import_theme(
    services: Services,
    actor: Actor,
    document: bytes,
    *,
    into: str | None = None,
    workspace_id: str | None = None,
    pool_id: str | None = None,
    publish: bool = False,
    accept_contrast_failures: bool = False,
) -> Imported:
    """A theme file as a new theme at the caller's scope (or the workspace or pool named),
    or as the new draft of ``into``; published when ``publish``."""
    parsed = _decode(document)
    files = [(item, _bytes(item)) for item in parsed.assets]
    check_tokens(parsed.tokens)
    if into is not None:
        # Refuse before storing anything when the target is not the caller's to edit.
        async with services.db.read() as session:
            await visible_theme(services, session, actor, "themes.write", into)
    stored = [(await upload_asset(services, actor, item.name, data)).sha256 for item, data in files]
    if into is None:
        base = parsed.base if parsed.base in load_builtin_themes() else "default"
        new = NewTheme(name=parsed.name, copy_of=base, workspace_id=workspace_id, pool_id=pool_id)
        theme = await create_theme(services, actor, new, tokens=parsed.tokens)
    else:
        theme = await save_draft(services, actor, into, DraftEdit(tokens=parsed.tokens))
    published = None
    if publish:
        published = await publish_theme(
            services, actor, theme.summary.id, accept_contrast_failures=accept_contrast_failures
        )
        theme = await get_theme(services, actor, theme.summary.id)
    return Imported(theme=theme, assets=stored, published=published)


def _decode(document: bytes) -> ThemeDocument:
    try:
        return msgspec.json.decode(document, type=ThemeDocument)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise InvalidInput({"file": [msg("brand.import_invalid", detail=str(exc)[:300])]}) from None


def _bytes(item: ExportedAsset) -> bytes:
    try:
        data = base64.b64decode(item.data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            {"file": [msg("brand.import_invalid", detail=f"asset {item.sha256[:12]}: not base64")]}
        ) from None
    if hashlib.sha256(data).hexdigest() != item.sha256:
        raise InvalidInput({"file": [msg("brand.import_hash", sha256=item.sha256[:12])]})
    inspect_upload(data, item.name)  # refuses early, before anything is stored
    return data
