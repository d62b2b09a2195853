"""Themes as objects: the read-only built-ins, and custom themes copied from them and
edited as drafts. Publishing and history are in ``publishing.py``.

A custom theme's draft is a token layer (``{"colors": {"primary": "#0a7"}, ...}``); a
copy of a built-in starts as all of the built-in's tokens. A draft is never live: pages
show a theme's published version only. Every change is audited in its own transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import Action, Actor
from widget_server.branding.access import (
    Place,
    audits_refusals,
    check,
    not_found,
    pool_place,
    scope_of,
    theme_place,
    within,
)
from widget_server.branding.contrast import ContrastCheck, check_contrast
from widget_server.branding.tokens import check_tokens, layer_of
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.messages import msg
from widget_server.models import ThemeAssignment, ThemeRecord, ThemeVersion, Workspace
from widget_server.services import Services
from widget_server.themes import Theme, load_builtin_themes

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class ThemeSummary(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    builtin: bool
    #: The built-in it was copied from (itself, for a built-in).
    base: str
    #: The theme's place: both None for a tenant-wide theme.
    workspace_id: str | None
    pool_id: str | None
    published_version: int | None
    draft_revision: int
    draft_updated_at: datetime | None
    draft_updated_by: str | None
    #: The draft differs from what is live (or nothing is live yet).
    unpublished_changes: bool


class ThemeDetail(msgspec.Struct, frozen=True, kw_only=True):
    summary: ThemeSummary
    #: The draft's token layer, as saved.
    draft: dict[str, Any]
    #: The live version's token layer; None before the first publish.
    published: dict[str, Any] | None
    #: The draft over the built-in default: every token, as the preview shows it.
    resolved: Theme
    contrast: list[ContrastCheck]
    #: Where it is assigned: (level, target id).
    assigned_to: list[tuple[str, str]]


class NewTheme(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name
    #: A built-in id, or a custom theme of the caller's to copy (its draft).
    copy_of: str
    #: The new theme's place; defaults to the caller's own scope.
    workspace_id: str | None = None
    pool_id: str | None = None


class DraftEdit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A save: the whole token layer and/or a new name. ``revision``, when given, must be
    the draft's current one, so a save never silently overwrites another designer's."""

    tokens: dict[str, Any] | None = None
    name: _Name | None = None
    revision: int | None = None


@audits_refusals
async def list_themes(services: Services, actor: Actor) -> list[ThemeSummary]:
    """The built-ins, then the custom themes in the caller's scope, by name."""
    await check(services, actor, "themes.read", scope_of(actor))
    async with services.db.read() as session:
        rows = (
            await session.execute(
                select(ThemeRecord)
                .where(ThemeRecord.tenant_id == actor.tenant_id)
                .order_by(ThemeRecord.name, ThemeRecord.id)
            )
        ).scalars()
        scope = scope_of(actor)
        visible = [r for r in rows if within(await theme_place(session, r), scope)]
        published = await _published_tokens(session, visible)
    builtins = [_builtin_summary(t) for t in load_builtin_themes().values()]
    return builtins + [_summary(r, published.get(r.id)) for r in visible]


@audits_refusals
async def get_theme(services: Services, actor: Actor, theme_id: str) -> ThemeDetail:
    builtin = load_builtin_themes().get(theme_id)
    if builtin is not None:
        await check(services, actor, "themes.read", scope_of(actor), target_id=theme_id)
        return _detail(_builtin_summary(builtin), layer_of(builtin), None, [])
    async with services.db.read() as session:
        record = await visible_theme(services, session, actor, "themes.read", theme_id)
        return await _record_detail(session, record)


@audits_refusals
async def create_theme(
    services: Services, actor: Actor, new: NewTheme, tokens: dict[str, Any] | None = None
) -> ThemeDetail:
    """A custom theme copied from a built-in (all its tokens) or another custom theme (its
    draft), placed in the caller's scope unless a place inside it is named. ``tokens``,
    when given, are the draft instead of the copy's (an import)."""
    if tokens is not None:
        check_tokens(tokens)
    now = services.clock.now()
    async with services.db.write() as session:
        place = await _new_place(services, session, actor, new)
        await check(services, actor, "themes.write", place)
        base, copied = await _copy_source(services, session, actor, new.copy_of)
        record = await insert_theme(
            session, actor, place, new.name, base, copied if tokens is None else tokens, now
        )
        await _audit(session, actor, "theme.create", record, now, {"copy_of": new.copy_of})
        return await _record_detail(session, record)


async def insert_theme(
    session: AsyncSession,
    actor: Actor,
    place: Place,
    name: str,
    base: str,
    tokens: dict[str, Any],
    now: datetime,
) -> ThemeRecord:
    """A new theme row at ``place`` (checked by the caller), its draft ``tokens``."""
    record = ThemeRecord(
        id=secrets_.new_id(),
        tenant_id=actor.tenant_id,
        # A pool's theme is placed by its pool alone: the pool may move between workspaces.
        workspace_id=place.workspace_id if place.pool_id is None else None,
        pool_id=place.pool_id,
        name=name.strip() or name,
        base=base,
        draft=tokens,
        draft_revision=1,
        draft_updated_at=now,
        draft_updated_by=actor.principal.name[:200],
        published_version=None,
        created_at=now,
    )
    session.add(record)
    await session.flush()
    return record


@audits_refusals
async def save_draft(
    services: Services, actor: Actor, theme_id: str, edit: DraftEdit
) -> ThemeDetail:
    """Replace the draft's tokens (checked against the grammar, problems by token) and/or
    rename the theme. Nothing goes live."""
    tokens = None
    if edit.tokens is not None:
        check_tokens(edit.tokens)
        tokens = edit.tokens
    now = services.clock.now()
    async with services.db.write() as session:
        record = await visible_theme(services, session, actor, "themes.write", theme_id, lock=True)
        if edit.revision is not None and edit.revision != record.draft_revision:
            raise Conflict("brand.draft_changed", revision=record.draft_revision)
        if tokens is not None:
            record.draft = tokens
        if edit.name is not None:
            record.name = edit.name.strip() or edit.name
        record.draft_revision += 1
        record.draft_updated_at = now
        record.draft_updated_by = actor.principal.name[:200]
        fields = [f for f in ("tokens", "name") if getattr(edit, f) is not None]
        await _audit(
            session,
            actor,
            "theme.save_draft",
            record,
            now,
            {"revision": record.draft_revision, "fields": fields},
        )
        await session.flush()
        return await _record_detail(session, record)


@audits_refusals
async def delete_theme(services: Services, actor: Actor, theme_id: str) -> None:
    """Delete a custom theme and its history; refused while it is assigned anywhere."""
    now = services.clock.now()
    async with services.db.write() as session:
        record = await visible_theme(services, session, actor, "themes.write", theme_id, lock=True)
        uses = await session.scalar(
            select(func.count())
            .select_from(ThemeAssignment)
            .where(ThemeAssignment.theme_id == record.id)
        )
        if uses:
            raise Conflict("brand.theme_in_use", count=int(uses))
        await _audit(session, actor, "theme.delete", record, now, {"name": record.name})
        await session.execute(delete(ThemeVersion).where(ThemeVersion.theme_id == record.id))
        await session.execute(delete(ThemeRecord).where(ThemeRecord.id == record.id))


# --- shared with publishing, assignment, exchange ---------------------------------------


async def visible_theme(
    services: Services,
    session: AsyncSession,
    actor: Actor,
    action: Action,
    theme_id: str,
    *,
    lock: bool = False,
) -> ThemeRecord:
    """The custom theme ``theme_id`` if the actor may do ``action`` to it. A built-in id
    is ``Conflict`` for anything but reading; unknown, another tenant's and out-of-scope
    themes are all ``NotFound``. ``lock`` holds the row until the transaction ends (two
    publishes of one theme then run one after the other)."""
    if theme_id in load_builtin_themes():
        await check(services, actor, action, scope_of(actor), target_id=theme_id)
        raise Conflict("brand.builtin_readonly")
    query = select(ThemeRecord).where(
        ThemeRecord.id == theme_id[:36], ThemeRecord.tenant_id == actor.tenant_id
    )
    record = (await session.execute(query.with_for_update() if lock else query)).scalar()
    place = await theme_place(session, record) if record is not None else None
    if record is None or place is None:
        not_found(actor, action, target_type="theme", target_id=theme_id)
    await check(services, actor, action, place, target_id=record.id)
    return record


async def _new_place(
    services: Services, session: AsyncSession, actor: Actor, new: NewTheme
) -> Place:
    if new.pool_id is not None:
        place = await pool_place(session, actor.tenant_id, new.pool_id)
        if place is None:
            raise InvalidInput({"pool_id": [msg("admin.unknown_pool")]})
        return place
    if new.workspace_id is not None:
        workspace = await session.get(Workspace, new.workspace_id[:36])
        if workspace is None or workspace.tenant_id != actor.tenant_id:
            raise InvalidInput({"workspace_id": [msg("brand.unknown_workspace")]})
        return Place(workspace_id=workspace.id)
    return scope_of(actor)


async def _copy_source(
    services: Services, session: AsyncSession, actor: Actor, copy_of: str
) -> tuple[str, dict[str, Any]]:
    builtin = load_builtin_themes().get(copy_of)
    if builtin is not None:
        return builtin.id, layer_of(builtin)
    try:
        source = await visible_theme(services, session, actor, "themes.read", copy_of)
    except NotFound:
        raise InvalidInput({"copy_of": [msg("brand.unknown_theme")]}) from None
    return source.base, dict(source.draft)


async def _published_tokens(
    session: AsyncSession, records: list[ThemeRecord]
) -> dict[str, dict[str, Any]]:
    live = [(r.id, r.published_version) for r in records if r.published_version is not None]
    if not live:
        return {}
    rows = await session.execute(
        select(ThemeVersion.theme_id, ThemeVersion.number, ThemeVersion.tokens).where(
            ThemeVersion.theme_id.in_([theme_id for theme_id, _n in live])
        )
    )
    wanted = dict(live)
    return {t: tokens for t, number, tokens in rows if wanted.get(t) == number}


async def _record_detail(session: AsyncSession, record: ThemeRecord) -> ThemeDetail:
    published = (await _published_tokens(session, [record])).get(record.id)
    assigned = await session.execute(
        select(ThemeAssignment.level, ThemeAssignment.target_id)
        .where(ThemeAssignment.theme_id == record.id)
        .order_by(ThemeAssignment.level, ThemeAssignment.target_id)
    )
    return _detail(
        _summary(record, published),
        dict(record.draft),
        published,
        [(level, target) for level, target in assigned],
    )


def _detail(
    summary: ThemeSummary,
    draft: dict[str, Any],
    published: dict[str, Any] | None,
    assigned: list[tuple[str, str]],
) -> ThemeDetail:
    resolved = check_tokens(draft)
    return ThemeDetail(
        summary=summary,
        draft=draft,
        published=published,
        resolved=resolved,
        contrast=check_contrast(resolved),
        assigned_to=assigned,
    )


def _summary(record: ThemeRecord, published: dict[str, Any] | None) -> ThemeSummary:
    return ThemeSummary(
        id=record.id,
        name=record.name,
        builtin=False,
        base=record.base,
        workspace_id=record.workspace_id,
        pool_id=record.pool_id,
        published_version=record.published_version,
        draft_revision=record.draft_revision,
        draft_updated_at=record.draft_updated_at,
        draft_updated_by=record.draft_updated_by,
        unpublished_changes=published != record.draft,
    )


def _builtin_summary(theme: Theme) -> ThemeSummary:
    return ThemeSummary(
        id=theme.id,
        name=theme.name,
        builtin=True,
        base=theme.id,
        workspace_id=None,
        pool_id=None,
        published_version=None,
        draft_revision=0,
        draft_updated_at=None,
        draft_updated_by=None,
        unpublished_changes=False,
    )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    record: ThemeRecord,
    now: datetime,
    details: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type="theme",
        target_id=record.id,
        pool_id=record.pool_id,
        now=now,
        details=details,
    )


async def touch(
    session: AsyncSession, theme_id: str, tokens: dict[str, Any], actor: Actor, now: datetime
) -> None:
    """Set a theme's draft to ``tokens`` (a rollback, an import), as a new revision."""
    await session.execute(
        update(ThemeRecord)
        .where(ThemeRecord.id == theme_id)
        .values(
            draft=tokens,
            draft_revision=ThemeRecord.draft_revision + 1,
            draft_updated_at=now,
            draft_updated_by=actor.principal.name[:200],
        )
    )
