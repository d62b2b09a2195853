"""Publishing a theme's draft, its history, and rollback.

A publish copies the draft into a new, numbered, never-changed version and points the
theme at it, in one transaction with the version bump of every pool the theme reaches
and the audit event: a reader sees the old theme or the new one, never half of each.
The theme's row is locked for that transaction, so two designers publishing at once
are serialised: both versions are kept, and the later one is live ("last wins").

A rollback publishes a copy of an earlier version as a new one (the history only grows)
and makes the draft that version's tokens again.

Before anything goes live: every token passes the grammar, every file it names is
uploaded (``InvalidInput`` names the token otherwise), and a theme below WCAG 2.2 AA
contrast goes live only with ``accept_contrast_failures=True`` (``ContrastFailures``
otherwise); the accepted failures are kept on the version and in the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.admin import audit
from widget_server.admin.access import Actor
from widget_server.branding import reach
from widget_server.branding.access import audits_refusals
from widget_server.branding.assets import asset_problems
from widget_server.branding.catalogue import touch, visible_theme
from widget_server.branding.contrast import ContrastCheck, check_contrast
from widget_server.branding.tokens import check_tokens
from widget_server.errors import Conflict, ContrastFailures, InvalidInput, NotFound
from widget_server.models import ThemeRecord, ThemeVersion
from widget_server.services import Services


class VersionView(msgspec.Struct, frozen=True, kw_only=True):
    theme_id: str
    number: int
    published_at: datetime
    #: The principal's id (None if it was deleted since) and name at the time.
    published_by: str | None
    published_by_name: str
    #: The version this one republished (a rollback).
    restored_from: int | None
    #: Contrast pairs below AA that the publisher accepted (``light.focus``).
    contrast_failures: list[str]
    live: bool


class VersionDetail(msgspec.Struct, frozen=True, kw_only=True):
    version: VersionView
    tokens: dict[str, Any]


class Published(msgspec.Struct, frozen=True, kw_only=True):
    version: VersionView
    contrast: list[ContrastCheck]
    #: The pools whose pages changed (their versions were bumped).
    pools: list[str]


@audits_refusals
async def publish_theme(
    services: Services,
    actor: Actor,
    theme_id: str,
    *,
    accept_contrast_failures: bool = False,
    revision: int | None = None,
) -> Published:
    """Make the draft live. ``revision``, when given, must be the draft the designer saw."""
    now = services.clock.now()
    async with services.db.write() as session:
        record = await visible_theme(
            services, session, actor, "themes.publish", theme_id, lock=True
        )
        if revision is not None and revision != record.draft_revision:
            raise Conflict("brand.draft_changed", revision=record.draft_revision)
        published = await publish_tokens(
            session, actor, record, dict(record.draft), now, accept_contrast_failures, None
        )
    reach.forget(services, published.pools)
    return published


@audits_refusals
async def rollback_theme(
    services: Services,
    actor: Actor,
    theme_id: str,
    version: int,
    *,
    accept_contrast_failures: bool = False,
) -> Published:
    """Publish version ``version``'s tokens again, as a new version; the draft follows."""
    now = services.clock.now()
    async with services.db.write() as session:
        record = await visible_theme(
            services, session, actor, "themes.publish", theme_id, lock=True
        )
        earlier = await _version(session, record.id, version)
        published = await publish_tokens(
            session,
            actor,
            record,
            dict(earlier.tokens),
            now,
            accept_contrast_failures,
            earlier.number,
        )
        await touch(session, record.id, dict(earlier.tokens), actor, now)
    reach.forget(services, published.pools)
    return published


@audits_refusals
async def theme_history(services: Services, actor: Actor, theme_id: str) -> list[VersionView]:
    """Every published version, newest first."""
    async with services.db.read() as session:
        record = await visible_theme(services, session, actor, "themes.read", theme_id)
        rows = await session.execute(
            select(ThemeVersion)
            .where(ThemeVersion.theme_id == record.id)
            .order_by(ThemeVersion.number.desc())
        )
        return [_view(row, record) for row in rows.scalars()]


@audits_refusals
async def get_version(
    services: Services, actor: Actor, theme_id: str, number: int
) -> VersionDetail:
    async with services.db.read() as session:
        record = await visible_theme(services, session, actor, "themes.read", theme_id)
        row = await _version(session, record.id, number)
        return VersionDetail(version=_view(row, record), tokens=dict(row.tokens))


async def publish_tokens(
    session: AsyncSession,
    actor: Actor,
    record: ThemeRecord,
    tokens: dict[str, Any],
    now: datetime,
    accept_contrast_failures: bool,
    restored_from: int | None,
) -> Published:
    """Publish ``tokens`` as ``record``'s next version in the caller's transaction (the
    row locked by the caller); the caller forgets the returned pools after the commit."""
    theme = check_tokens(tokens)
    problems = await asset_problems(session, actor.tenant_id, theme)
    if problems:
        raise InvalidInput({field: [problem] for field, problem in problems.items()})
    contrast = check_contrast(theme)
    failures = [c.id for c in contrast if not c.passes]
    if failures and not accept_contrast_failures:
        raise ContrastFailures(failures)
    latest = await session.scalar(
        select(func.max(ThemeVersion.number)).where(ThemeVersion.theme_id == record.id)
    )
    row = ThemeVersion(
        theme_id=record.id,
        number=(latest or 0) + 1,
        tokens=tokens,
        published_at=now,
        published_by=actor.principal.id,
        published_by_name=actor.principal.name[:200],
        restored_from=restored_from,
        contrast_failures=failures,
    )
    session.add(row)
    record.published_version = row.number
    pools = await reach.bump(
        session, await reach.theme_reach(session, actor.tenant_id, record.id), now
    )
    await audit.record(
        session,
        actor,
        "theme.rollback" if restored_from is not None else "theme.publish",
        target_type="theme",
        target_id=record.id,
        pool_id=record.pool_id,
        now=now,
        details={
            "version": row.number,
            "restored_from": restored_from,
            "accepted_contrast_failures": failures,
            "pools": pools,
        },
    )
    await session.flush()
    return Published(version=_view(row, record), contrast=contrast, pools=pools)


async def _version(session: AsyncSession, theme_id: str, number: int) -> ThemeVersion:
    row = (
        await session.execute(
            select(ThemeVersion).where(
                ThemeVersion.theme_id == theme_id, ThemeVersion.number == number
            )
        )
    ).scalar()
    if row is None:
        raise NotFound("version")
    return row


def _view(row: ThemeVersion, record: ThemeRecord) -> VersionView:
    return VersionView(
        theme_id=row.theme_id,
        number=row.number,
        published_at=row.published_at,
        published_by=row.published_by,
        published_by_name=row.published_by_name,
        restored_from=row.restored_from,
        contrast_failures=list(row.contrast_failures),
        live=row.number == record.published_version,
    )
