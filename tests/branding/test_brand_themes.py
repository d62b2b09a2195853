"""Themes as objects (branding/catalogue.py, publishing.py) on SQLite and PostgreSQL:
built-ins are read-only, copies are edited as drafts, publish makes a numbered version
live, history keeps who and when, rollback republishes, concurrent publishes both land."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from tests.branding.conftest import (
    DESIGNER,
    OPERATOR,
    actor,
    errors_of,
    new_theme,
    png,
    services,
)
from tests.conftest import Harness
from widget_server.branding import assets, catalogue, publishing
from widget_server.branding.assignment import assign_theme
from widget_server.branding.catalogue import DraftEdit, NewTheme
from widget_server.errors import Conflict, ContrastFailures, Forbidden, InvalidInput, NotFound
from widget_server.models import AuditEvent, ThemeVersion
from widget_server.themes import load_builtin_themes


async def test_builtins_are_listed_and_read_only(harness: Harness) -> None:
    listed = await catalogue.list_themes(services(harness), DESIGNER)
    builtin = {t.id for t in listed if t.builtin}
    assert {"default", "forest", "midnight", "dark"} <= builtin
    # The demo's two custom themes follow the built-ins.
    assert {"acme-partners", "acme-staff"} <= {t.id for t in listed if not t.builtin}
    detail = await catalogue.get_theme(services(harness), DESIGNER, "midnight")
    assert detail.summary.builtin
    assert detail.resolved.colors == load_builtin_themes()["midnight"].colors
    with pytest.raises(Conflict) as refused:
        await catalogue.save_draft(
            services(harness), DESIGNER, "midnight", DraftEdit(name="Mine now")
        )
    assert refused.value.message_id == "brand.builtin_readonly"
    with pytest.raises(Conflict):
        await publishing.publish_theme(services(harness), DESIGNER, "default")


async def test_copy_edit_and_bad_tokens_are_named(harness: Harness) -> None:
    theme = await new_theme(harness, copy_of="forest")
    assert theme.summary.base == "forest"
    assert theme.draft["colors"]["primary"] == "#2f6f4f"
    assert theme.summary.published_version is None and theme.summary.unpublished_changes

    tokens = {**theme.draft, "colors": {**theme.draft["colors"], "primary": "red;}</style>"}}
    with pytest.raises(InvalidInput) as bad:
        await catalogue.save_draft(
            services(harness), DESIGNER, theme.summary.id, DraftEdit(tokens=tokens)
        )
    assert errors_of(bad.value) == {"colors.primary": ["brand.invalid_token"]}

    dark_typo = {**theme.draft, "dark": {"colors": {"text": "nope"}}}
    with pytest.raises(InvalidInput) as bad:
        await catalogue.save_draft(
            services(harness), DESIGNER, theme.summary.id, DraftEdit(tokens=dark_typo)
        )
    assert set(errors_of(bad.value)) == {"dark.colors.text"}

    unknown_copy = {**theme.draft, "copy": {"ui.no_such_text": "x"}}
    with pytest.raises(InvalidInput) as bad:
        await catalogue.save_draft(
            services(harness), DESIGNER, theme.summary.id, DraftEdit(tokens=unknown_copy)
        )
    assert set(errors_of(bad.value)) == {"copy.ui.no_such_text"}

    good = {**theme.draft, "colors": {**theme.draft["colors"], "primary": "#0f5132"}}
    saved = await catalogue.save_draft(
        services(harness),
        DESIGNER,
        theme.summary.id,
        DraftEdit(tokens=good, name="Forest, darker", revision=1),
    )
    assert saved.summary.draft_revision == 2 and saved.summary.name == "Forest, darker"
    assert saved.resolved.colors.primary == "#0f5132"
    # A save over a revision someone else has moved past is refused, not lost.
    with pytest.raises(Conflict) as stale:
        await catalogue.save_draft(
            services(harness), DESIGNER, theme.summary.id, DraftEdit(name="x", revision=1)
        )
    assert stale.value.message_id == "brand.draft_changed"


async def test_publish_history_and_rollback(harness: Harness) -> None:
    svc = services(harness)
    theme = await new_theme(harness)
    theme_id = theme.summary.id
    first = await publishing.publish_theme(svc, DESIGNER, theme_id)
    assert first.version.number == 1 and first.version.live
    assert first.version.published_by_name == "Bea Brand"
    assert first.version.published_at == harness.clock.now()

    harness.clock.advance(60)
    red = {**theme.draft, "colors": {**theme.draft["colors"], "primary": "#9f1239"}}
    await catalogue.save_draft(svc, OPERATOR, theme_id, DraftEdit(tokens=red))
    second = await publishing.publish_theme(svc, OPERATOR, theme_id)
    assert second.version.number == 2

    history = await publishing.theme_history(svc, DESIGNER, theme_id)
    assert [(v.number, v.live, v.published_by_name) for v in history] == [
        (2, True, "tenant_admin of acme"),
        (1, False, "Bea Brand"),
    ]

    harness.clock.advance(60)
    back = await publishing.rollback_theme(svc, DESIGNER, theme_id, 1)
    assert (back.version.number, back.version.restored_from) == (3, 1)
    detail = await catalogue.get_theme(svc, DESIGNER, theme_id)
    assert detail.summary.published_version == 3
    assert detail.published == detail.draft  # the draft follows the rollback
    assert detail.resolved.colors.primary == load_builtin_themes()["default"].colors.primary
    assert (await publishing.get_version(svc, DESIGNER, theme_id, 2)).tokens["colors"][
        "primary"
    ] == "#9f1239"
    with pytest.raises(NotFound):
        await publishing.rollback_theme(svc, DESIGNER, theme_id, 9)

    async with svc.db.read() as session:
        actions = list(
            (
                await session.execute(
                    select(AuditEvent.action)
                    .where(AuditEvent.target_id == theme_id)
                    .order_by(AuditEvent.id)
                )
            ).scalars()
        )
    assert actions == [
        "theme.create",
        "theme.publish",
        "theme.save_draft",
        "theme.publish",
        "theme.rollback",
    ]


async def test_two_publishes_at_once_both_land_and_the_last_wins(harness: Harness) -> None:
    svc = services(harness)
    theme = await new_theme(harness)
    results = await asyncio.gather(
        publishing.publish_theme(svc, DESIGNER, theme.summary.id),
        publishing.publish_theme(svc, OPERATOR, theme.summary.id),
    )
    numbers = sorted(r.version.number for r in results)
    assert numbers == [1, 2]
    async with svc.db.read() as session:
        stored = list(
            (
                await session.execute(
                    select(ThemeVersion.number).where(ThemeVersion.theme_id == theme.summary.id)
                )
            ).scalars()
        )
    assert sorted(stored) == [1, 2]
    detail = await catalogue.get_theme(svc, DESIGNER, theme.summary.id)
    assert detail.summary.published_version == 2


async def test_publish_refuses_a_deleted_asset_naming_the_token(harness: Harness) -> None:
    svc = services(harness)
    logo = await assets.upload_asset(svc, DESIGNER, "logo.png", png())
    theme = await new_theme(harness)
    draft = {**theme.draft, "logo": {**theme.draft["logo"], "asset": logo.sha256}}
    await catalogue.save_draft(svc, DESIGNER, theme.summary.id, DraftEdit(tokens=draft))
    await assets.delete_asset(svc, DESIGNER, logo.sha256)  # nothing live uses it yet
    with pytest.raises(InvalidInput) as missing:
        await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    assert errors_of(missing.value) == {"logo.asset": ["brand.asset_missing"]}

    font = {**draft, "font": {**draft["font"], "asset": logo.sha256}}
    await assets.upload_asset(svc, DESIGNER, "logo.png", png())
    await catalogue.save_draft(svc, DESIGNER, theme.summary.id, DraftEdit(tokens=font))
    with pytest.raises(InvalidInput) as wrong_kind:
        await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    assert errors_of(wrong_kind.value) == {"font.asset": ["brand.asset_kind"]}

    await catalogue.save_draft(svc, DESIGNER, theme.summary.id, DraftEdit(tokens=draft))
    await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    with pytest.raises(Conflict) as in_use:
        await assets.delete_asset(svc, DESIGNER, logo.sha256)
    assert in_use.value.message_id == "brand.asset_in_use"


async def test_contrast_failures_need_an_explicit_accept_and_are_recorded(
    harness: Harness,
) -> None:
    svc = services(harness)
    theme = await new_theme(harness)
    grey = {**theme.draft, "colors": {**theme.draft["colors"], "muted": "#aaaaaa"}}
    detail = await catalogue.save_draft(svc, DESIGNER, theme.summary.id, DraftEdit(tokens=grey))
    assert [c.id for c in detail.contrast if not c.passes] == ["light.muted"]
    with pytest.raises(ContrastFailures) as refused:
        await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    assert refused.value.failures == ("light.muted",)
    assert refused.value.message.params == {"pairs": "light.muted"}

    published = await publishing.publish_theme(
        svc, DESIGNER, theme.summary.id, accept_contrast_failures=True
    )
    assert published.version.contrast_failures == ["light.muted"]
    async with svc.db.read() as session:
        event = (
            await session.execute(
                select(AuditEvent).where(
                    AuditEvent.action == "theme.publish",
                    AuditEvent.target_id == theme.summary.id,
                )
            )
        ).scalar_one()
    assert event.details["accepted_contrast_failures"] == ["light.muted"]
    assert event.actor_name == "Bea Brand"


async def test_delete_refused_while_assigned(harness: Harness) -> None:
    svc = services(harness)
    theme = await new_theme(harness)
    await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    await assign_theme(svc, DESIGNER, "pool", "partner-1", theme.summary.id)
    with pytest.raises(Conflict) as in_use:
        await catalogue.delete_theme(svc, DESIGNER, theme.summary.id)
    assert in_use.value.message_id == "brand.theme_in_use"
    await assign_theme(svc, DESIGNER, "pool", "partner-1", None)
    await catalogue.delete_theme(svc, DESIGNER, theme.summary.id)
    with pytest.raises(NotFound):
        await catalogue.get_theme(svc, DESIGNER, theme.summary.id)


async def test_copy_of_a_custom_theme_takes_its_draft(harness: Harness) -> None:
    svc = services(harness)
    source = await catalogue.get_theme(svc, DESIGNER, "acme-partners")
    copy = await catalogue.create_theme(
        svc, DESIGNER, NewTheme(name="Partners, again", copy_of="acme-partners")
    )
    assert copy.draft == source.draft and copy.summary.base == "default"
    with pytest.raises(InvalidInput) as unknown:
        await catalogue.create_theme(svc, DESIGNER, NewTheme(name="x", copy_of="nope"))
    assert errors_of(unknown.value) == {"copy_of": ["brand.unknown_theme"]}


@pytest.mark.parametrize("role", ["pool_viewer", "pool_admin"])
async def test_pool_roles_without_delegation_get_403(harness: Harness, role: str) -> None:
    who = actor(role, pool_id="partner-1")  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        await catalogue.create_theme(
            services(harness), who, NewTheme(name="x", copy_of="default", pool_id="partner-1")
        )
