"""The database and secret key a CLI command acts on, checked before it acts.

Run from the wrong folder, a command used to create an empty SQLite file and a new secret
key beside it, or print an API key the running server refuses, without a word. Now a
command that needs the database refuses, naming the URL it looked at, unless

- the database exists and is migrated (SQLite: the file exists; PostgreSQL: the schema
  has Alembic's version table), or ``--create`` says to set up a new one there;
- the secret key's fingerprint is the one the database was set up with
  (``widget_server.installation``); ``--create`` records it for a database without one;

and it says on stderr, in one line, which database, tenant and key source it uses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from widget_server import migrate
from widget_server.db import Database
from widget_server.errors import InstallationError
from widget_server.installation import (
    check_fingerprint,
    database_state,
    ensure_key_fingerprint,
    mask_url,
    stored_fingerprint,
)
from widget_server.settings import Settings

#: Where a SQLite installation keeps its generated key: the folder the server runs in.
DATA_DIR = Path(".data")


def add_create_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--create",
        action="store_true",
        help="set up a new database (and SQLite secret key) if there is none: without it, "
        "the command refuses rather than act on an empty one",
    )


def key_source(settings: Settings, data_dir: Path = DATA_DIR) -> str:
    """Where the key of ``Settings.from_env().with_secret(data_dir)`` comes from."""
    return "WIDGET_SECRET_KEY" if settings.secret_key else str((data_dir / "secret.key").resolve())


async def open_target(
    settings: Settings, *, create: bool, scope: str, data_dir: Path = DATA_DIR
) -> Settings:
    """Check (and with ``create``, set up) the database of ``settings``; return the settings
    with their secret key. ``scope`` says which tenant the command acts on, for the line on
    stderr. Raises ``InstallationError`` before creating or writing anything."""
    url = mask_url(settings.database_url)
    state = await database_state(settings.database_url)
    if state != "migrated" and not create:
        message_id = "install.no_database" if state == "missing" else "install.not_migrated"
        raise InstallationError(message_id, url=url)
    source = key_source(settings, data_dir)
    # A new key only for a new database: one generated for an existing database could only
    # be refused (or, recorded for one without a fingerprint, lock its server out).
    keyed = settings.with_secret(data_dir, create=create and state != "migrated")
    if not keyed.secret_key:
        raise InstallationError("install.no_secret", path=source)
    _say_where(url, scope, source)
    db = Database(keyed.database_url)
    try:
        # Checked before migrating, so the wrong key changes nothing; only --create may
        # record a key for a database that has none.
        stored = await stored_fingerprint(db)
        if stored is not None or not create:
            check_fingerprint(stored, keyed.secret_key, url=url, source=source)
        await migrate.upgrade(db)
        if create:
            await ensure_key_fingerprint(db, keyed.secret_key, source=source)
    finally:
        await db.dispose()
    return keyed


async def check_before_serving(settings: Settings, source: str) -> None:
    """``serve``: a database set up under another key stops here, with the operator's
    message instead of a traceback from the app's startup (which checks as well, for servers
    started some other way). A new or pre-fingerprint database is the startup's to record."""
    url = mask_url(settings.database_url)
    _say_where(url, "every tenant", source)
    if await database_state(settings.database_url) != "migrated":
        return
    db = Database(settings.database_url)
    try:
        stored = await stored_fingerprint(db)
    finally:
        await db.dispose()
    if stored is not None:
        check_fingerprint(stored, settings.secret_key, url=url, source=source)


def _say_where(url: str, scope: str, source: str) -> None:
    print(f"widget-server: database {url}; {scope}; secret key from {source}", file=sys.stderr)
