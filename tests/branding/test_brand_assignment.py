"""Where themes apply (branding/assignment.py, layers.py, reach.py): tenant -> workspace ->
pool -> app, token by token; which layer set each token; a publish or an assignment
reaching every page through the pool version, here and in another process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from tests.branding.conftest import (
    DESIGNER,
    OPERATOR,
    actor,
    errors_of,
    new_theme,
    services,
    workspace_ids,
)
from tests.conftest import PARTNER, Harness
from widget_server import pools as pools_module
from widget_server.admin.apps import AppPatch, NewApp, create_app, revoke_app, update_app
from widget_server.branding import catalogue, publishing
from widget_server.branding.assignment import assign_theme, assignment_targets, token_origins_for
from widget_server.branding.catalogue import DraftEdit
from widget_server.errors import Forbidden, InvalidInput, NotFound
from widget_server.models import AuditEvent, Pool
from widget_server.pools import PoolDirectory, theme_layers_for
from widget_server.themes import resolve_theme


async def published(h: Harness, tokens: dict[str, Any], **place: str) -> str:
    """A custom theme whose draft is ``tokens`` over the default, published."""
    theme = await new_theme(h, **place)
    merged = {**theme.draft, **tokens}
    await catalogue.save_draft(services(h), DESIGNER, theme.summary.id, DraftEdit(tokens=merged))
    await publishing.publish_theme(services(h), DESIGNER, theme.summary.id)
    return theme.summary.id


async def version(h: Harness, pool_id: str) -> int:
    async with services(h).db.read() as session:
        return int(await session.scalar(select(Pool.version).where(Pool.id == pool_id)) or 0)


async def test_four_levels_resolve_token_by_token_and_say_where_each_comes_from(
    harness: Harness,
) -> None:
    svc = services(harness)
    base = resolve_theme().colors
    tenant = await published(
        harness,
        {"colors": {**_c(base), "primary": "#111111"}, "radius": "2px", "spacing": "20px"},
    )
    workspace = await published(harness, {"colors": {**_c(base), "primary": "#222222"}})
    pool = await published(harness, {"colors": {**_c(base), "primary": "#333333"}})
    app_theme = await published(harness, {"colors": {**_c(base), "primary": "#444444"}})
    partners = (await workspace_ids(harness))["Partners"]
    await assign_theme(svc, DESIGNER, "tenant", "acme", tenant)
    await assign_theme(svc, DESIGNER, "workspace", partners, workspace)
    await assign_theme(svc, DESIGNER, "pool", "partner-1", pool)
    app = await create_app(
        svc, OPERATOR, NewApp(name="Shop", kind="public", pool_ids=["partner-1"], id="shop")
    )
    await assign_theme(svc, DESIGNER, "app", app.app.id, app_theme)

    view = await svc.pools.get("partner-1")
    assert resolve_theme(*theme_layers_for(view)).colors.primary == "#333333"
    assert resolve_theme(*theme_layers_for(view, "shop")).colors.primary == "#444444"
    assert resolve_theme(*theme_layers_for(view, "another-app")).colors.primary == "#333333"
    # Copies of the default set every token, so the most specific theme wins them all;
    # a partial layer (the pool's inline tokens) wins only what it names.
    assert resolve_theme(*theme_layers_for(view)).radius == "10px"
    assert resolve_theme(*theme_layers_for(view)).logo.text == "Partner One"

    origins = {o.token: o for o in await token_origins_for(svc, DESIGNER, "partner-1")}
    assert (origins["colors.primary"].level, origins["colors.primary"].theme_id) == ("pool", pool)
    assert origins["colors.primary"].version == 1
    assert (origins["logo.text"].level, origins["logo.text"].theme_id) == ("pool", None)
    with_app = {o.token: o for o in await token_origins_for(svc, DESIGNER, "partner-1", "shop")}
    assert with_app["colors.primary"].level == "app"
    assert with_app["colors.primary"].value == "#444444"

    # Take the pool's and the app's themes away: the workspace's shows, then the tenant's.
    await assign_theme(svc, DESIGNER, "pool", "partner-1", None)
    await assign_theme(svc, DESIGNER, "app", "shop", None)
    view = await svc.pools.get("partner-1")
    assert resolve_theme(*theme_layers_for(view, "shop")).colors.primary == "#222222"
    await assign_theme(svc, DESIGNER, "workspace", partners, None)
    view = await svc.pools.get("partner-1")
    theme = resolve_theme(*theme_layers_for(view))
    assert (theme.colors.primary, theme.radius, theme.spacing) == ("#111111", "2px", "20px")
    origins = {o.token: o for o in await token_origins_for(svc, DESIGNER, "partner-1")}
    assert origins["radius"].level == "tenant"


def _c(colors: Any) -> dict[str, str]:
    return {name: getattr(colors, name) for name in colors.__struct_fields__}


async def test_partial_layers_merge_token_by_token(harness: Harness) -> None:
    """partner-2 keeps its own primary and radius over the Partners workspace theme; the
    other tokens come from the workspace theme or the built-in default."""
    origins = {
        o.token: o for o in await token_origins_for(services(harness), DESIGNER, "partner-2")
    }
    assert (origins["colors.primary"].level, origins["colors.primary"].value) == ("pool", "#0f766e")
    assert (origins["radius"].level, origins["radius"].value) == ("pool", "4px")
    assert origins["colors.background"].level == "workspace"
    assert origins["colors.background"].theme_id == "acme-partners"
    assert origins["button.shape"].value == "pill"
    assert (origins["colors.text"].level, origins["colors.text"].theme_id) == (
        "workspace",
        "acme-partners",
    )
    assert not any(token.startswith("dark.") for token in origins)


async def test_publish_reaches_every_page_at_once_here_and_soon_elsewhere(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = services(harness)
    other_process = PoolDirectory(svc.db)
    monkeypatch.setattr(pools_module, "CACHE_SECONDS", 0.05)
    before = await other_process.get("partner-1")
    css = await harness.client.get(f"/embed/partner-1/theme.css?v={before.version}")
    assert "--ws-color-primary:#b42318" in css.text  # ACME Partners, the demo's

    theme = await catalogue.get_theme(svc, DESIGNER, "acme-partners")
    green = {**theme.draft, "colors": {**theme.draft["colors"], "primary": "#166534"}}
    await catalogue.save_draft(svc, DESIGNER, "acme-partners", DraftEdit(tokens=green))
    # A draft reaches no page.
    assert (await svc.pools.get("partner-1")).version == before.version
    done = await publishing.publish_theme(svc, DESIGNER, "acme-partners")
    assert set(done.pools) == {"partner-1", "partner-2", "partner-phone"}

    here = await svc.pools.get("partner-1")
    assert here.version == before.version + 1
    css = await harness.client.get(f"/embed/partner-1/theme.css?v={here.version}")
    assert "--ws-color-primary:#166534" in css.text
    assert harness.web.renderer.theme(here).colors.primary == "#166534"
    # Another process: its snapshot expires within its cache time and reloads the new one.
    await asyncio.sleep(0.1)
    there = await other_process.get("partner-1")
    assert there.version == here.version
    assert resolve_theme(*there.theme_layers).colors.primary == "#166534"
    # Pools outside the theme's reach keep their version.
    assert (await svc.pools.get("employees")).version == 1


async def test_app_theme_changes_bump_the_pools_it_signs_in_to(harness: Harness) -> None:
    svc = services(harness)
    before = await version(harness, "partner-1")
    app = await create_app(
        svc,
        OPERATOR,
        NewApp(
            name="Shop",
            kind="public",
            pool_ids=["partner-1"],
            id="shop",
            theme={"logo": {"text": "Shop"}},
        ),
    )
    assert await version(harness, "partner-1") == before + 1
    view = await svc.pools.get("partner-1")
    assert resolve_theme(*theme_layers_for(view, "shop")).logo.text == "Shop"
    await update_app(svc, OPERATOR, app.app.id, AppPatch(pool_ids=["partner-2"]))
    assert await version(harness, "partner-1") == before + 2
    assert "shop" not in (await svc.pools.get("partner-1")).app_theme_layers
    assert "shop" in (await svc.pools.get("partner-2")).app_theme_layers
    await revoke_app(svc, OPERATOR, app.app.id)
    assert "shop" not in (await svc.pools.get("partner-2")).app_theme_layers


async def test_a_theme_applies_only_inside_its_place_and_once_published(harness: Harness) -> None:
    svc = services(harness)
    ids = await workspace_ids(harness)
    partners_theme = await new_theme(harness, workspace_id=ids["Partners"])
    with pytest.raises(InvalidInput) as unpublished:
        await assign_theme(svc, DESIGNER, "pool", "partner-1", partners_theme.summary.id)
    assert errors_of(unpublished.value) == {"theme_id": ["brand.not_published"]}
    await publishing.publish_theme(svc, DESIGNER, partners_theme.summary.id)
    await assign_theme(svc, DESIGNER, "pool", "partner-1", partners_theme.summary.id)
    for level, target in (
        ("pool", "employees"),
        ("tenant", "acme"),
        ("workspace", ids["Employees"]),
    ):
        with pytest.raises(InvalidInput) as outside:
            await assign_theme(svc, DESIGNER, level, target, partners_theme.summary.id)  # type: ignore[arg-type]
        assert errors_of(outside.value) == {"theme_id": ["brand.theme_scope"]}
    with pytest.raises(NotFound):
        await assign_theme(svc, DESIGNER, "pool", "no-such-pool", None)
    with pytest.raises(NotFound):
        await assign_theme(svc, DESIGNER, "tenant", "other-tenant", None)


async def test_a_workspace_designer_sees_and_changes_only_its_workspace(harness: Harness) -> None:
    svc = services(harness)
    ids = await workspace_ids(harness)
    partners = actor("brand_designer", workspace_id=ids["Partners"], name="Partners designer")
    listed = {t.id for t in await catalogue.list_themes(svc, partners) if not t.builtin}
    assert listed == {"acme-partners"}
    with pytest.raises(NotFound):
        await catalogue.get_theme(svc, partners, "acme-staff")
    with pytest.raises(NotFound):
        await assign_theme(svc, partners, "pool", "employees", None)
    with pytest.raises(NotFound):
        await assign_theme(svc, partners, "tenant", "acme", None)
    with pytest.raises(NotFound):
        await token_origins_for(svc, partners, "employees")
    # Inside: copy a built-in into the workspace, publish, assign to one of its pools.
    mine = await catalogue.create_theme(
        svc, partners, catalogue.NewTheme(name="Partner blue", copy_of="dark")
    )
    assert mine.summary.workspace_id == ids["Partners"]
    await publishing.publish_theme(svc, partners, mine.summary.id)
    await assign_theme(svc, partners, "pool", "partner-phone", mine.summary.id)
    targets = {(t.level, t.id) for t in await assignment_targets(svc, partners)}
    assert ("pool", "partner-1") in targets and ("workspace", ids["Partners"]) in targets
    assert ("pool", "employees") not in targets and ("tenant", "acme") not in targets
    async with svc.db.read() as session:
        denied = list(
            (
                await session.execute(
                    select(AuditEvent.action, AuditEvent.target_id).where(
                        AuditEvent.outcome == "denied", AuditEvent.actor_name == "Partners designer"
                    )
                )
            ).all()
        )
    assert ("themes.read", "acme-staff") in [tuple(d) for d in denied]
    assert ("themes.assign", "employees") in [tuple(d) for d in denied]


async def test_delegated_pool_admin_brands_its_own_pool_and_nothing_above(harness: Harness) -> None:
    svc = services(harness)
    lead = actor("pool_admin", pool_id="business-1", name="Lena Lead")  # delegated in the demo
    own = await catalogue.create_theme(
        svc, lead, catalogue.NewTheme(name="Business One", copy_of="default")
    )
    assert own.summary.pool_id == "business-1"
    await publishing.publish_theme(svc, lead, own.summary.id)
    await assign_theme(svc, lead, "pool", "business-1", own.summary.id)
    view = await svc.pools.get("business-1")
    assert view.theme_sources.sources[-2].theme_id == own.summary.id
    assert {t.id for t in await catalogue.list_themes(svc, lead) if not t.builtin} == {
        own.summary.id
    }
    for level, target in (
        ("workspace", (await workspace_ids(harness))["Business customers"]),
        ("tenant", "acme"),
        ("pool", "partner-1"),
    ):
        with pytest.raises(NotFound):
            await assign_theme(svc, lead, level, target, own.summary.id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await catalogue.get_theme(svc, lead, "acme-partners")
    # A pool whose admins the tenant did not delegate to: 403 for its admin.
    other = actor("pool_admin", pool_id="partner-1")
    with pytest.raises(Forbidden):
        await catalogue.list_themes(svc, other)


async def test_partner_page_with_client_id_renders_the_app_theme(harness: Harness) -> None:
    """What the lead's widget rendering reads: the app layer is in the pool snapshot."""
    svc = services(harness)
    await create_app(
        svc,
        OPERATOR,
        NewApp(
            name="Shop",
            kind="public",
            pool_ids=["partner-1"],
            id="shop",
            allowed_origins=[PARTNER],
            theme={"colors": {"primary": "#7c2d12"}},
        ),
    )
    view = await svc.pools.get("partner-1")
    assert resolve_theme(*theme_layers_for(view, "shop")).colors.primary == "#7c2d12"
    assert resolve_theme(*theme_layers_for(view, None)).colors.primary == "#b42318"
