"""Uploaded images and fonts: checked by their content, stored by their SHA-256.

A file's name and declared type are ignored: what it is comes from its first bytes
(PNG, JPEG, WebP, WOFF2) or from parsing it (SVG, ``svg.py``), and an image must decode
(Pillow) within the pixel limits. So a PNG renamed ``logo.svg`` is stored and served as
the PNG it is. Files are kept in the database, so every process serves the same ones,
and are named by their hash: themes refer to that hash, the server serves the bytes at
``themes.asset_url(sha256)`` with a long cache lifetime (the bytes of a hash never
change), and uploading the same file twice stores it once.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import msgspec
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin import audit
from widget_server.admin.access import Actor
from widget_server.branding.access import audits_refusals, check, scope_of
from widget_server.branding.layers import flatten
from widget_server.branding.svg import check_svg, refused
from widget_server.db import Database
from widget_server.errors import Conflict, NotFound
from widget_server.messages import Msg, msg
from widget_server.models import App, BrandAsset, Pool, Tenant, ThemeRecord, ThemeVersion
from widget_server.services import Services
from widget_server.themes import Theme, asset_url

IMAGE_MAX_BYTES = 1024 * 1024
FONT_MAX_BYTES = 500 * 1024
#: Pixels per side: a logo or background larger than this only costs bandwidth.
MAX_DIMENSION = 4096

Kind = Literal["image", "font"]
_RASTER = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
#: Tokens that name a font; every other asset token names an image.
_FONT_TOKENS = frozenset({"font.asset"})
ASSET_TOKENS = frozenset(
    {
        "font.asset",
        "logo.asset",
        "page.background_image",
        "page.favicon",
        "dark.logo",
        "dark.background_image",
    }
)


class Inspected(msgspec.Struct, frozen=True, kw_only=True):
    kind: Kind
    media_type: str
    width: int | None = None
    height: int | None = None


class AssetView(msgspec.Struct, frozen=True, kw_only=True):
    sha256: str
    kind: str
    media_type: str
    name: str
    size: int
    width: int | None
    height: int | None
    #: Where the server serves it (same origin; cache it for ever).
    url: str
    created_at: datetime
    created_by: str


class StoredAsset(msgspec.Struct, frozen=True, kw_only=True):
    media_type: str
    data: bytes


def inspect_upload(data: bytes, name: str = "") -> Inspected:
    """What ``data`` is, or ``InvalidInput`` on ``file`` with the reason. CPU-bound (it
    decodes the image): call it off the event loop."""
    if not data:
        raise refused("brand.asset_empty")
    if len(data) > IMAGE_MAX_BYTES:
        raise refused("brand.asset_too_large", max_kb=IMAGE_MAX_BYTES // 1024)
    head = data[:16]
    if head.startswith(b"wOF2"):
        return _font(data)
    raster = _raster_format(head)
    if raster is not None:
        return _image(data, raster)
    if name.lower().endswith(".woff2"):
        raise refused("brand.font_magic")
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        width, height = check_svg(data)
        return Inspected(kind="image", media_type="image/svg+xml", width=width, height=height)
    raise refused("brand.asset_type")


def _raster_format(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _font(data: bytes) -> Inspected:
    if len(data) > FONT_MAX_BYTES:
        raise refused("brand.asset_too_large", max_kb=FONT_MAX_BYTES // 1024)
    # The WOFF2 header's own length field (bytes 8..12) must be the file's length.
    if len(data) < 48 or int.from_bytes(data[8:12], "big") != len(data):
        raise refused("brand.font_corrupt")
    return Inspected(kind="font", media_type="font/woff2")


def _image(data: bytes, expected: str) -> Inspected:
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, for images of absurd pixel counts: refuse both.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as image:
                width, height = image.size
                if width > MAX_DIMENSION or height > MAX_DIMENSION:
                    raise refused(
                        "brand.asset_dimensions", width=width, height=height, max=MAX_DIMENSION
                    )
                image.load()  # the whole image must decode, not just its header
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise refused("brand.asset_dimensions", width=0, height=0, max=MAX_DIMENSION) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise refused("brand.asset_corrupt") from None
    return Inspected(kind="image", media_type=_RASTER[expected], width=width, height=height)


@audits_refusals
async def upload_asset(services: Services, actor: Actor, name: str, data: bytes) -> AssetView:
    """Check and store one file for the actor's tenant; the same bytes again return the
    stored one. ``name`` is for people only (shown in the studio)."""
    await check(services, actor, "themes.write", scope_of(actor), target_type="asset")
    inspected = await asyncio.to_thread(inspect_upload, data, name)
    sha256 = hashlib.sha256(data).hexdigest()
    now = services.clock.now()
    row = BrandAsset(
        tenant_id=actor.tenant_id,
        sha256=sha256,
        kind=inspected.kind,
        media_type=inspected.media_type,
        name=(name.strip() or sha256)[:200],
        size=len(data),
        width=inspected.width,
        height=inspected.height,
        data=data,
        created_at=now,
        created_by=actor.principal.name[:200],
    )
    try:
        async with services.db.write() as session:
            if await session.get(BrandAsset, (actor.tenant_id, sha256)) is None:
                session.add(row)
                await session.flush()
                await _audit(session, actor, "asset.upload", row, now)
    except IntegrityError:
        pass  # the same file, uploaded at the same moment by someone else: it is stored
    async with services.db.read() as session:
        stored = await session.get(BrandAsset, (actor.tenant_id, sha256))
    assert stored is not None
    return _view(stored)


@audits_refusals
async def list_assets(services: Services, actor: Actor) -> list[AssetView]:
    await check(services, actor, "themes.read", scope_of(actor), target_type="asset")
    async with services.db.read() as session:
        rows = await session.execute(
            select(BrandAsset)
            .where(BrandAsset.tenant_id == actor.tenant_id)
            .order_by(BrandAsset.created_at.desc(), BrandAsset.sha256)
        )
        return [_view(row) for row in rows.scalars()]


@audits_refusals
async def delete_asset(services: Services, actor: Actor, sha256: str) -> None:
    """Delete an uploaded file; refused while anything live uses it. Drafts that name it
    are refused at their next publish, with the token named."""
    await check(services, actor, "themes.write", scope_of(actor), target_type="asset")
    now = services.clock.now()
    async with services.db.write() as session:
        row = await session.get(BrandAsset, (actor.tenant_id, sha256[:64]))
        if row is None:
            raise NotFound("asset")
        if sha256 in await live_assets(session, actor.tenant_id):
            raise Conflict("brand.asset_in_use")
        await _audit(session, actor, "asset.delete", row, now)
        await session.delete(row)


async def fetch_asset(db: Database, sha256: str) -> StoredAsset | None:
    """The bytes and media type of an uploaded file, by hash, for serving: no actor, as
    public pages show these (a hash names exactly one content, whoever uploaded it)."""
    if len(sha256) != 64:
        return None
    async with db.read() as session:
        row = (
            await session.execute(
                select(BrandAsset.media_type, BrandAsset.data)
                .where(BrandAsset.sha256 == sha256)
                .limit(1)
            )
        ).first()
    return None if row is None else StoredAsset(media_type=row[0], data=row[1])


async def asset_problems(session: AsyncSession, tenant_id: str, theme: Theme) -> dict[str, Msg]:
    """The asset tokens of ``theme`` whose file is missing from the tenant, or of the
    wrong kind (a font where an image goes), by token."""
    wanted = theme.assets()
    if not wanted:
        return {}
    rows = await session.execute(
        select(BrandAsset.sha256, BrandAsset.kind).where(
            BrandAsset.tenant_id == tenant_id, BrandAsset.sha256.in_(set(wanted.values()))
        )
    )
    kinds = dict([(a, b) for a, b in rows])
    problems: dict[str, Msg] = {}
    for token, sha256 in wanted.items():
        needed = "font" if token in _FONT_TOKENS else "image"
        if sha256 not in kinds:
            problems[token] = msg("brand.asset_missing", sha256=sha256[:12])
        elif kinds[sha256] != needed:
            problems[token] = msg("brand.asset_kind", kind=needed)
    return problems


async def live_assets(session: AsyncSession, tenant_id: str) -> set[str]:
    """Hashes named by anything pages show now: live theme versions, inline tokens."""
    layers: list[Mapping[str, Any]] = list(
        (
            await session.execute(
                select(ThemeVersion.tokens)
                .join(ThemeRecord, ThemeRecord.id == ThemeVersion.theme_id)
                .where(
                    ThemeRecord.tenant_id == tenant_id,
                    ThemeVersion.number == ThemeRecord.published_version,
                )
            )
        ).scalars()
    )
    for column, owner in (
        (Tenant.theme, Tenant.id),
        (Pool.theme, Pool.tenant_id),
        (App.theme, App.tenant_id),
    ):
        layers += (await session.execute(select(column).where(owner == tenant_id))).scalars()
    return {
        value
        for layer in layers
        for token, value in flatten(layer or {}).items()
        if token in ASSET_TOKENS and isinstance(value, str)
    }


async def _audit(
    session: AsyncSession, actor: Actor, action: str, row: BrandAsset, now: datetime
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type="asset",
        target_id=row.sha256,
        pool_id=None,
        now=now,
        details={"kind": row.kind, "media_type": row.media_type, "size": row.size},
    )


def _view(row: BrandAsset) -> AssetView:
    return AssetView(
        sha256=row.sha256,
        kind=row.kind,
        media_type=row.media_type,
        name=row.name,
        size=row.size,
        width=row.width,
        height=row.height,
        url=asset_url(row.sha256),
        created_at=row.created_at,
        created_by=row.created_by,
    )
