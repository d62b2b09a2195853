"""Workspaces (branding/workspaces.py, templates.py) and the migration that made them: every
pool in exactly one; created, renamed, deleted only when empty; pools move; a sector
template makes a workspace with its pools and theme at once, or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from tests.branding.conftest import (
    DESIGNER,
    OPERATOR,
    errors_of,
    new_theme,
    services,
    workspace_ids,
)
from tests.conftest import Harness
from widget_server.admin.pools import NewPool, create_pool, delete_pool
from widget_server.branding import publishing, workspaces
from widget_server.branding.assignment import assign_theme
from widget_server.branding.templates import (
    NewTemplateWorkspace,
    TemplatePool,
    create_workspace_from_template,
)
from widget_server.branding.workspaces import NewWorkspace
from widget_server.db import Database
from widget_server.errors import Conflict, Forbidden, InvalidInput
from widget_server.migrate import upgrade
from widget_server.models import Pool, ThemeAssignment, Workspace
from widget_server.pools import theme_layers_for
from widget_server.themes import load_builtin_themes, resolve_theme


async def test_demo_pools_sit_in_their_workspaces(harness: Harness) -> None:
    listed = {
        w.name: w.pool_ids for w in await workspaces.list_workspaces(services(harness), DESIGNER)
    }
    assert listed == {
        "Business customers": ["business-1"],
        "Employees": ["employees"],
        "Partners": ["partner-1", "partner-2", "partner-phone"],
    }


async def test_create_rename_move_and_delete_only_when_empty(harness: Harness) -> None:
    svc = services(harness)
    created = await workspaces.create_workspace(svc, OPERATOR, NewWorkspace(name="  Retail   EU "))
    assert created.name == "Retail EU" and created.pool_ids == []
    with pytest.raises(InvalidInput) as taken:
        await workspaces.create_workspace(svc, OPERATOR, NewWorkspace(name="Partners"))
    assert errors_of(taken.value) == {"name": ["brand.workspace_name_taken"]}
    renamed = await workspaces.rename_workspace(
        svc, OPERATOR, created.id, NewWorkspace(name="Retail")
    )
    assert renamed.name == "Retail"

    version = (await svc.pools.get("partner-2")).version
    moved = await workspaces.move_pool(svc, OPERATOR, "partner-2", created.id)
    assert moved.pool_ids == ["partner-2"]
    view = await svc.pools.get("partner-2")
    assert view.workspace_id == created.id and view.version == version + 1
    # It left the Partners workspace's theme behind with the workspace.
    assert "acme-partners" not in {s.theme_id for s in view.theme_sources.sources}

    with pytest.raises(Conflict) as full:
        await workspaces.delete_workspace(svc, OPERATOR, created.id)
    assert full.value.message_id == "brand.workspace_not_empty"
    await workspaces.move_pool(
        svc, OPERATOR, "partner-2", (await workspace_ids(harness))["Partners"]
    )
    await workspaces.delete_workspace(svc, OPERATOR, created.id)
    assert "Retail" not in await workspace_ids(harness)


async def test_a_pool_using_its_workspace_theme_must_change_theme_before_moving(
    harness: Harness,
) -> None:
    svc = services(harness)
    ids = await workspace_ids(harness)
    theme = await new_theme(harness, workspace_id=ids["Partners"])
    await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    await assign_theme(svc, DESIGNER, "pool", "partner-1", theme.summary.id)
    with pytest.raises(Conflict) as refused:
        await workspaces.move_pool(svc, OPERATOR, "partner-1", ids["Employees"])
    assert refused.value.message_id == "brand.pool_uses_workspace_theme"


async def test_designers_read_workspaces_but_only_operators_change_them(harness: Harness) -> None:
    with pytest.raises(Forbidden):
        await workspaces.create_workspace(services(harness), DESIGNER, NewWorkspace(name="Mine"))


async def test_new_pools_join_the_named_or_the_first_workspace(harness: Harness) -> None:
    svc = services(harness)
    ids = await workspace_ids(harness)
    named = await create_pool(
        svc,
        OPERATOR,
        NewPool(id="shop-eu", name="Shop", template="ecommerce", workspace_id=ids["Employees"]),
    )
    assert named.workspace_id == ids["Employees"]
    first = await create_pool(
        svc, OPERATOR, NewPool(id="shop-us", name="Shop", template="ecommerce")
    )
    async with svc.db.read() as session:
        oldest = await session.scalar(
            select(Workspace.id).order_by(Workspace.created_at, Workspace.id).limit(1)
        )
    assert first.workspace_id == oldest
    with pytest.raises(InvalidInput) as unknown:
        await create_pool(
            svc, OPERATOR, NewPool(id="shop-x", name="x", template="ecommerce", workspace_id="nope")
        )
    assert errors_of(unknown.value) == {"workspace_id": ["brand.unknown_workspace"]}


async def test_a_sector_template_makes_workspace_pools_and_theme_at_once(harness: Harness) -> None:
    svc = services(harness)
    made = await create_workspace_from_template(
        svc,
        OPERATOR,
        NewTemplateWorkspace(
            name="Private banking",
            template="banking",
            pools=[
                TemplatePool(id="bank-ch", name="Bank CH"),
                TemplatePool(id="bank-de", name="Bank DE"),
            ],
        ),
    )
    assert made.workspace.pool_ids == ["bank-ch", "bank-de"]
    assert made.workspace.theme_id == made.theme_id
    pool = await svc.pools.get("bank-ch")
    theme = resolve_theme(*theme_layers_for(pool))
    assert theme.colors == load_builtin_themes()["midnight"].colors
    assert pool.policy.help()  # the banking policy came with the template
    # A taken pool id leaves nothing behind: no workspace, no pools, no theme.
    with pytest.raises(InvalidInput) as taken:
        await create_workspace_from_template(
            svc,
            OPERATOR,
            NewTemplateWorkspace(
                name="Second try",
                template="ecommerce",
                pools=[
                    TemplatePool(id="fresh-pool", name="x"),
                    TemplatePool(id="bank-ch", name="x"),
                ],
            ),
        )
    assert errors_of(taken.value) == {"id": ["admin.id_taken"]}
    assert "Second try" not in await workspace_ids(harness)
    async with svc.db.read() as session:
        assert await session.get(Pool, "fresh-pool") is None


async def test_migration_moves_existing_pools_into_a_default_workspace(database_url: str) -> None:
    """A database at 0005 with a tenant, pools and a user (whose foreign key to its pool is
    why SQLite must not rebuild the pools table) upgrades with every pool in "Default"."""
    db = Database(database_url)
    try:
        await upgrade(db, "0005")
        now = datetime(2026, 1, 1, tzinfo=UTC)
        async with db.engine.begin() as conn:
            await _old_rows(conn, now)
        await upgrade(db)
        async with db.engine.connect() as conn:
            spaces = (
                await conn.execute(sa.text("SELECT id, tenant_id, name FROM workspaces"))
            ).all()
            pools = (await conn.execute(sa.text("SELECT id, workspace_id FROM pools"))).all()
            users = (await conn.execute(sa.text("SELECT pool_id FROM users"))).all()
    finally:
        await db.dispose()
    assert [(t, n) for _, t, n in spaces] == [("acme", "Default")]
    assert {p: w for p, w in pools} == {"p1": spaces[0][0], "p2": spaces[0][0]}
    assert users == [("p1",)]


async def _old_rows(conn: sa.ext.asyncio.AsyncConnection, now: datetime) -> None:
    meta = sa.MetaData()
    await conn.run_sync(meta.reflect, only=["tenants", "schemas", "pools", "users"])
    t = meta.tables
    await conn.execute(
        t["tenants"].insert().values(id="acme", name="ACME", theme={}, created_at=now)
    )
    await conn.execute(
        t["schemas"]
        .insert()
        .values(
            id="s", tenant_id=None, name="s", kind="payload", body={}, builtin=True, created_at=now
        )
    )
    for pool_id in ("p1", "p2"):
        await conn.execute(
            t["pools"].insert().values(
                id=pool_id, tenant_id="acme", name=pool_id, payload_schema_id="s",
                metadata_schema_id=None, password_policy={}, activation_methods=["email"],
                self_registration=True, allowed_origins=[], theme={}, email_domains=[],
                template=None, session_lifetime_seconds=86400, session_idle_seconds=3600,
                phone_regions=[], mfa="off", version=1, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    await conn.execute(
        t["users"].insert().values(
            id="u1", pool_id="p1", status="active", payload={}, metadata={}, created_at=now,
            updated_at=now, activated_at=now, created_by=None, deleted_at=None,
        )
    )  # fmt: skip


async def test_assignments_of_a_deleted_pool_go_with_it(harness: Harness) -> None:
    svc = services(harness)
    await create_pool(svc, OPERATOR, NewPool(id="temp", name="Temp", template="ecommerce"))
    theme = await new_theme(harness, pool_id="temp")
    await publishing.publish_theme(svc, DESIGNER, theme.summary.id)
    await assign_theme(svc, DESIGNER, "pool", "temp", theme.summary.id)
    await delete_pool(svc, OPERATOR, "temp")
    async with svc.db.read() as session:
        left = (
            await session.execute(
                select(ThemeAssignment).where(ThemeAssignment.target_id == "temp")
            )
        ).all()
    assert left == []
