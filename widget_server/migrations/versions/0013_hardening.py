"""hardening: revoked authorization codes, per-pool claim mapping

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

``authorization_codes.revoked_at``: set when a used code is presented again (RFC 6749
§4.1.2); the access tokens issued from it carry the code's id and are refused from then
on. ``pools.claim_mapping``: which payload or metadata field feeds which standard OpenID
Connect claim (``oidc/mapping.py``); NULL means the mapping read from the pool's schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "authorization_codes", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("pools", sa.Column("claim_mapping", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("pools", "claim_mapping")
    op.drop_column("authorization_codes", "revoked_at")
