"""branding: workspaces, themes as versioned objects, assignments, brand assets

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Every existing pool moves into a workspace named "Default" of its tenant (one is made
for each tenant). Pools get the tenant's delegation flags for their administrators and
tenants a password floor; principals and apps may be scoped to / grouped under a
workspace.

SQLite cannot add a foreign-key column to a table other than as a nullable column by
``ALTER TABLE ... ADD COLUMN``; Alembic's batch mode would rebuild ``pools`` instead, and
dropping the old ``pools`` inside the migration's transaction fails on the foreign keys
of its users (``PRAGMA foreign_keys`` cannot be switched off inside a transaction). So the
referencing columns are added with plain ``ALTER TABLE`` there, and stay nullable on both
databases (the services always set ``pools.workspace_id``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: (table, column): the columns that point at a workspace.
_WORKSPACE_REFERENCES = (
    ("pools", "workspace_id"),
    ("admin_principals", "workspace_id"),
    ("apps", "workspace_id"),
)


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_workspace_tenant_name"),
    )
    op.create_index("ix_workspaces_tenant_id", "workspaces", ["tenant_id"])
    _create_theme_tables()
    for table, column in _WORKSPACE_REFERENCES:
        _add_reference(table, column, "workspaces")
    op.create_index("ix_pools_workspace_id", "pools", ["workspace_id"])
    for column in ("admins_may_brand", "admins_may_set_policy"):
        op.add_column(
            "pools",
            sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false()),
        )
    op.add_column("tenants", sa.Column("password_floor", sa.JSON(), nullable=True))
    _default_workspaces()


def _create_theme_tables() -> None:
    op.create_table(
        "themes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=True),
        sa.Column("pool_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base", sa.String(length=64), nullable=False),
        sa.Column("draft", sa.JSON(), nullable=False),
        sa.Column("draft_revision", sa.Integer(), nullable=False),
        sa.Column("draft_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draft_updated_by", sa.String(length=200), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_themes_tenant_id", "themes", ["tenant_id"])
    op.create_table(
        "theme_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("theme_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("tokens", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=36), nullable=True),
        sa.Column("published_by_name", sa.String(length=200), nullable=False),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("contrast_failures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["theme_id"], ["themes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("theme_id", "number", name="uq_theme_version_number"),
    )
    op.create_table(
        "theme_assignments",
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("theme_id", sa.String(length=36), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["theme_id"], ["themes.id"]),
        sa.PrimaryKeyConstraint("level", "target_id"),
    )
    op.create_index("ix_theme_assignments_tenant_id", "theme_assignments", ["tenant_id"])
    op.create_index("ix_theme_assignments_theme_id", "theme_assignments", ["theme_id"])
    op.create_table(
        "brand_assets",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("tenant_id", "sha256"),
    )
    op.create_index("ix_brand_assets_sha256", "brand_assets", ["sha256"])


def _add_reference(table: str, column: str, target: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Constant names only: nothing here comes from outside this module.
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(36) REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.String(length=36), nullable=True))
        op.create_foreign_key(None, table, target, [column], ["id"])


def _default_workspaces() -> None:
    """One workspace "Default" per tenant, holding every pool the tenant has."""
    bind = op.get_bind()
    tenants = sa.table("tenants", sa.column("id", sa.String))
    workspaces = sa.table(
        "workspaces",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("name", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    pools = sa.table("pools", sa.column("tenant_id", sa.String), sa.column("workspace_id"))
    now = datetime.now(UTC)
    for (tenant_id,) in bind.execute(sa.select(tenants.c.id)).all():
        workspace_id = str(uuid.uuid4())
        bind.execute(
            workspaces.insert().values(
                id=workspace_id,
                tenant_id=tenant_id,
                name="Default",
                created_at=now,
                updated_at=now,
            )
        )
        bind.execute(
            pools.update().where(pools.c.tenant_id == tenant_id).values(workspace_id=workspace_id)
        )


def downgrade() -> None:
    op.drop_column("tenants", "password_floor")
    for column in ("admins_may_set_policy", "admins_may_brand"):
        op.drop_column("pools", column)
    op.drop_index("ix_pools_workspace_id", table_name="pools")
    for table, column in _WORKSPACE_REFERENCES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    op.drop_index("ix_brand_assets_sha256", table_name="brand_assets")
    op.drop_table("brand_assets")
    op.drop_index("ix_theme_assignments_theme_id", table_name="theme_assignments")
    op.drop_index("ix_theme_assignments_tenant_id", table_name="theme_assignments")
    op.drop_table("theme_assignments")
    op.drop_table("theme_versions")
    op.drop_index("ix_themes_tenant_id", table_name="themes")
    op.drop_table("themes")
    op.drop_index("ix_workspaces_tenant_id", table_name="workspaces")
    op.drop_table("workspaces")
