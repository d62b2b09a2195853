"""installation: the fingerprint of the secret key the database was set up with

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

One row. The server refuses to start, and the CLI to act, under a secret key whose
fingerprint differs from the stored one: codes, CSRF tokens, invitation links, API keys,
encrypted TOTP seeds and signing keys made under the stored key would all be unreadable.
A database upgraded from before this revision gets its fingerprint on the next start.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_installation_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("installation")
