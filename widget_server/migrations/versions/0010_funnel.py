"""funnel: the sign-up funnel's daily counters per pool, embedding site, step and counter

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Aggregates only (observe/funnel.py): no user, flow, address or client address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "funnel_counts",
        sa.Column("pool_id", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=255), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("counter", sa.String(length=96), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(
            "pool_id", "day", "site", "step", "counter", name="pk_funnel_counts"
        ),
    )


def downgrade() -> None:
    op.drop_table("funnel_counts")
