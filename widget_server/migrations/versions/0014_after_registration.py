"""after registration: what the done step offers, per pool and per app

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

A nullable JSON column on ``pools`` and ``apps`` (``flows/after_registration.py``);
NULL means "the notice alone", as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("pools", "apps"):
        op.add_column(table, sa.Column("after_registration", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in ("apps", "pools"):
        op.drop_column(table, "after_registration")
