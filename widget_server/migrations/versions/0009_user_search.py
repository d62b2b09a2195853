"""user search at scale: sort keys, keyset indexes, trigram indexes, last sign-in

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A pool of a million users is listed page by page with keyset pagination, so each sort
order has a composite btree ``(pool_id, key, id)``. Keys that may be missing are
``coalesce``d to a constant (the epoch, the empty string) so that row comparisons work
and the index serves them. Two columns are kept by triggers, so that every writer (the
ORM, the PostgreSQL registration function, imports) keeps them right without knowing:

- ``users.sort_address``: the user's smallest address (``''`` once erased), from
  ``addresses``;
- ``users.last_login_at``: the newest session's start, from ``sessions``.

The name is an expression over the payload (``display_name``, else ``name``, else
given and family name, or first and last name: the OpenID Connect claim names
and the ones the built-in schemas use), with
the same text in ``users/search_sql.py``; SQLite uses an expression index only when the
query's expression is the same text.

On PostgreSQL, ``pg_trgm`` GIN indexes answer substring searches (addresses, the name,
the payload as text for fields marked ``x-searchable``) and a ``text_pattern_ops`` btree
answers address prefixes whatever the database's collation. SQLite has no trigram index:
a substring there reads the pool (fine at demo size); prefixes use the unique index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NAME_SQL = {
    "postgresql": (
        "lower(coalesce(payload ->> 'display_name', payload ->> 'name', "
        "btrim(coalesce(payload ->> 'given_name', payload ->> 'first_name', '') || ' ' || "
        "coalesce(payload ->> 'family_name', payload ->> 'last_name', ''))))"
    ),
    "sqlite": (
        "lower(coalesce(json_extract(payload, '$.display_name'), json_extract(payload, '$.name'), "
        "trim(coalesce(json_extract(payload, '$.given_name'), "
        "json_extract(payload, '$.first_name'), '') || ' ' || "
        "coalesce(json_extract(payload, '$.family_name'), json_extract(payload, '$.last_name'), "
        "''))))"
    ),
}
EPOCH_SQL = {
    "postgresql": "'1970-01-01 00:00:00+00'::timestamptz",
    "sqlite": "'1970-01-01 00:00:00.000000'",
}

_PG_TRIGGERS = (
    """
CREATE OR REPLACE FUNCTION widget_users_sort_address() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  who varchar;
BEGIN
  IF TG_OP = 'DELETE' THEN who := OLD.user_id; ELSE who := NEW.user_id; END IF;
  UPDATE users SET sort_address = coalesce(
    (SELECT min(value) FROM addresses WHERE user_id = who), '')
  WHERE id = who;
  IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
    UPDATE users SET sort_address = coalesce(
      (SELECT min(value) FROM addresses WHERE user_id = OLD.user_id), '')
    WHERE id = OLD.user_id;
  END IF;
  RETURN NULL;
END $$""",
    """
CREATE TRIGGER tr_addresses_sort_address
  AFTER INSERT OR DELETE OR UPDATE OF value, user_id ON addresses
  FOR EACH ROW EXECUTE FUNCTION widget_users_sort_address()""",
    """
CREATE OR REPLACE FUNCTION widget_users_last_login() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET last_login_at = NEW.created_at
  WHERE id = NEW.user_id AND (last_login_at IS NULL OR last_login_at < NEW.created_at);
  RETURN NULL;
END $$""",
    """
CREATE TRIGGER tr_sessions_last_login AFTER INSERT ON sessions
  FOR EACH ROW EXECUTE FUNCTION widget_users_last_login()""",
)

_SQLITE_SORT_ADDRESS = (
    "UPDATE users SET sort_address = coalesce("
    "(SELECT min(value) FROM addresses WHERE user_id = {row}.user_id), '') "
    "WHERE id = {row}.user_id;"
)
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER tr_addresses_sort_address_ins AFTER INSERT ON addresses BEGIN "
    + _SQLITE_SORT_ADDRESS.format(row="NEW")
    + " END",
    "CREATE TRIGGER tr_addresses_sort_address_del AFTER DELETE ON addresses BEGIN "
    + _SQLITE_SORT_ADDRESS.format(row="OLD")
    + " END",
    "CREATE TRIGGER tr_addresses_sort_address_upd AFTER UPDATE OF value, user_id ON addresses "
    "BEGIN "
    + _SQLITE_SORT_ADDRESS.format(row="OLD")
    + " "
    + _SQLITE_SORT_ADDRESS.format(row="NEW")
    + " END",
    "CREATE TRIGGER tr_sessions_last_login AFTER INSERT ON sessions BEGIN "
    "UPDATE users SET last_login_at = NEW.created_at WHERE id = NEW.user_id "
    "AND (last_login_at IS NULL OR last_login_at < NEW.created_at); END",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("users", sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("sort_address", sa.String(length=320), nullable=True))
    op.execute(
        "UPDATE users SET sort_address = coalesce("
        "(SELECT min(value) FROM addresses WHERE addresses.user_id = users.id), ''), "
        "last_login_at = (SELECT max(created_at) FROM sessions WHERE sessions.user_id = users.id)"
    )
    epoch, name = EPOCH_SQL[dialect], NAME_SQL[dialect]
    op.create_index("ix_users_pool_created", "users", ["pool_id", "created_at", "id"])
    keyed = {
        "ix_users_pool_activated": f"coalesce(activated_at, {epoch})",
        "ix_users_pool_last_login": f"coalesce(last_login_at, {epoch})",
        "ix_users_pool_name": name,
    }
    for index, key in keyed.items():
        op.execute(f"CREATE INDEX {index} ON users (pool_id, ({key}), id)")
    op.create_index("ix_users_pool_address", "users", ["pool_id", "sort_address", "id"])
    if dialect == "postgresql":
        _postgres_search(name)
    for statement in _PG_TRIGGERS if dialect == "postgresql" else _SQLITE_TRIGGERS:
        op.execute(statement)


def _postgres_search(name: str) -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(
        "CREATE INDEX ix_addresses_pool_value_prefix ON addresses (pool_id, value text_pattern_ops)"
    )
    op.execute("CREATE INDEX ix_addresses_value_trgm ON addresses USING gin (value gin_trgm_ops)")
    op.execute(f"CREATE INDEX ix_users_name_trgm ON users USING gin (({name}) gin_trgm_ops)")
    op.execute(
        "CREATE INDEX ix_users_payload_trgm ON users "
        "USING gin ((lower(payload::text)) gin_trgm_ops)"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tr_sessions_last_login ON sessions")
        op.execute("DROP TRIGGER IF EXISTS tr_addresses_sort_address ON addresses")
        op.execute("DROP FUNCTION IF EXISTS widget_users_last_login()")
        op.execute("DROP FUNCTION IF EXISTS widget_users_sort_address()")
        for index in ("ix_users_payload_trgm", "ix_users_name_trgm", "ix_addresses_value_trgm"):
            op.execute(f"DROP INDEX IF EXISTS {index}")
        op.execute("DROP INDEX IF EXISTS ix_addresses_pool_value_prefix")
    else:
        for trigger in ("ins", "del", "upd"):
            op.execute(f"DROP TRIGGER IF EXISTS tr_addresses_sort_address_{trigger}")
        op.execute("DROP TRIGGER IF EXISTS tr_sessions_last_login")
    for index in (
        "ix_users_pool_address",
        "ix_users_pool_name",
        "ix_users_pool_last_login",
        "ix_users_pool_activated",
        "ix_users_pool_created",
    ):
        op.drop_index(index, table_name="users")
    op.drop_column("users", "sort_address")
    op.drop_column("users", "last_login_at")
