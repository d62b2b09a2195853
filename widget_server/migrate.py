"""Apply Alembic migrations, from the CLI or at demo start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from widget_server.db import Database

_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("sqlalchemy.url", url)
    return config


#: Held for the transaction of an upgrade on PostgreSQL (an arbitrary constant of ours).
_LOCK = 0x77696467  # "widg"


async def upgrade(db: Database, revision: str = "head") -> None:
    """Upgrade to ``revision``. On PostgreSQL, concurrent upgrades (a migration job and
    replicas that migrate as they start, or several replicas at once) run one after
    another under a transaction lock: the second finds the schema current and does
    nothing, instead of failing on a table the first has just made."""

    def run(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)


async def downgrade(db: Database, revision: str) -> None:
    """Downgrade to ``revision`` (tests of a migration's way back; operators restore a
    backup instead)."""

    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run)
