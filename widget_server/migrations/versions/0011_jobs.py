"""jobs: background exports, imports and bulk actions of a pool's users

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

One table of jobs, leased by the job workers like the outbox's messages, with a partial
unique index that lets at most one changing job (import, bulk action) per pool be queued
or running; and an index on ``users(pool_id, id)`` for walking a pool's users in batches.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_ONE_CHANGING = "exclusive AND status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("pool_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=False),
        sa.Column("requested_by_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.Column("lease_owner", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("downloaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_pool_created", "jobs", ["pool_id", "created_at"])
    op.create_index("ix_jobs_status_lease", "jobs", ["status", "lease_until"])
    op.create_index(
        "uq_jobs_one_changing_per_pool",
        "jobs",
        ["pool_id"],
        unique=True,
        sqlite_where=sa.text(_ONE_CHANGING),
        postgresql_where=sa.text(_ONE_CHANGING),
    )
    op.create_index("ix_users_pool_id_id", "users", ["pool_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_users_pool_id_id", table_name="users")
    op.drop_table("jobs")
