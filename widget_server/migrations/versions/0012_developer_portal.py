"""developer portal: invitations for developers, app secret rotation with a grace period,
the embed log (refused frame origins per pool)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

- ``developer_invitations``: an operator's or pool admin's invitation of a developer by
  email; the link's token is stored only as a keyed hash.
- ``apps.previous_secret_hash`` / ``apps.previous_secret_until``: after a rotation the
  old secret still authenticates at the token endpoint until then.
- ``embed_refusals``: one row per (pool, refused origin) with a count and when it was
  first and last seen; the writer keeps a bounded number of origins per pool.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "developer_invitations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("pool_id", sa.String(length=64), nullable=True),
        sa.Column("workspace_id", sa.String(length=36), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.String(length=36), nullable=True),
        sa.Column("invited_by_name", sa.String(length=200), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("principal_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("developer_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_developer_invitations_tenant_id"), ["tenant_id"], unique=False
        )
    op.add_column("apps", sa.Column("previous_secret_hash", sa.String(length=64), nullable=True))
    op.add_column(
        "apps", sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "embed_refusals",
        sa.Column("pool_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("pool_id", "origin"),
    )


def downgrade() -> None:
    op.drop_table("embed_refusals")
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_until")
        batch_op.drop_column("previous_secret_hash")
    with op.batch_alter_table("developer_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_developer_invitations_tenant_id"))
    op.drop_table("developer_invitations")
