"""developers scoped to several pools: the pools of a developer, and of an invitation

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

- ``admin_principal_pools``: (developer, pool) pairs. A developer scoped to pools has its
  pools here and ``admin_principals.pool_id`` NULL; pool admins and viewers keep their one
  ``pool_id``. Existing developers of one pool move here, so their scope is unchanged.
- ``developer_invitation_pools``: the pools an invitation names; the one ``pool_id`` of
  ``developer_invitations`` moves here and the column goes.

Downgrade keeps one pool per developer and invitation (the first by id): narrower, never
wider. A developer left with no pool is revoked there, since the old code read "no pool,
no workspace" as the whole tenant.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


_invitation_pools = sa.table(
    "developer_invitation_pools", sa.column("invitation_id"), sa.column("pool_id")
)


def upgrade() -> None:
    op.create_table(
        "admin_principal_pools",
        sa.Column("principal_id", sa.String(length=36), nullable=False),
        sa.Column("pool_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["principal_id"], ["admin_principals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("principal_id", "pool_id"),
    )
    op.create_index(
        "ix_admin_principal_pools_pool_id", "admin_principal_pools", ["pool_id"], unique=False
    )
    # The data: plain SQL both dialects read the same way.
    op.execute(
        "INSERT INTO admin_principal_pools (principal_id, pool_id) "
        "SELECT id, pool_id FROM admin_principals "
        "WHERE role = 'developer' AND pool_id IS NOT NULL"
    )
    op.execute(
        "UPDATE admin_principals SET pool_id = NULL "
        "WHERE role = 'developer' AND pool_id IS NOT NULL"
    )
    # Read the invitations' pools before the column goes: on SQLite the batch copies
    # the table and drops the old one, and with foreign keys on that drop would cascade
    # into a link table made earlier.
    invited = op.get_bind().execute(
        sa.text("SELECT id, pool_id FROM developer_invitations WHERE pool_id IS NOT NULL")
    )
    pairs = [{"invitation_id": i, "pool_id": p} for i, p in invited]
    with op.batch_alter_table("developer_invitations", schema=None) as batch_op:
        batch_op.drop_column("pool_id")
    op.create_table(
        "developer_invitation_pools",
        sa.Column("invitation_id", sa.String(length=36), nullable=False),
        sa.Column("pool_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"], ["developer_invitations.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("invitation_id", "pool_id"),
    )
    op.create_index(
        "ix_developer_invitation_pools_pool_id",
        "developer_invitation_pools",
        ["pool_id"],
        unique=False,
    )
    if pairs:
        op.bulk_insert(_invitation_pools, pairs)


def downgrade() -> None:
    # Read first: the batch below would cascade-delete the link rows on SQLite.
    firsts = op.get_bind().execute(
        sa.text(
            "SELECT invitation_id, MIN(pool_id) FROM developer_invitation_pools "
            "GROUP BY invitation_id"
        )
    )
    pairs = [{"i": i, "p": p} for i, p in firsts]
    with op.batch_alter_table("developer_invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool_id", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            "fk_developer_invitations_pool_id", "pools", ["pool_id"], ["id"], ondelete="CASCADE"
        )
    for pair in pairs:
        op.get_bind().execute(
            sa.text("UPDATE developer_invitations SET pool_id = :p WHERE id = :i"), pair
        )
    op.execute(
        "UPDATE admin_principals SET pool_id = ("
        "SELECT MIN(pool_id) FROM admin_principal_pools "
        "WHERE admin_principal_pools.principal_id = admin_principals.id) "
        "WHERE role = 'developer' AND workspace_id IS NULL"
    )
    op.execute(
        "UPDATE admin_principals SET revoked_at = CURRENT_TIMESTAMP "
        "WHERE role = 'developer' AND workspace_id IS NULL AND pool_id IS NULL "
        "AND revoked_at IS NULL"
    )
    op.drop_index("ix_developer_invitation_pools_pool_id", table_name="developer_invitation_pools")
    op.drop_table("developer_invitation_pools")
    op.drop_index("ix_admin_principal_pools_pool_id", table_name="admin_principal_pools")
    op.drop_table("admin_principal_pools")
