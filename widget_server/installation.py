"""Which secret key a database belongs to, and whether a URL points at a database at all.

Everything the server stores or hands out that must be checked later (codes, CSRF tokens,
sessions, API keys, invitation links, encrypted TOTP seeds and signing keys) is keyed by
the secret key. A process started under another key would refuse all of it, and an API
key minted by the CLI under another key is refused by the server. So the database keeps a
fingerprint of the key it was set up with (table ``installation``, one row), recorded on
its first start, and whoever opens it under a key with another fingerprint stops before
writing anything.

The fingerprint is an HMAC of a fixed label under the key, cut to 128 bits: enough to tell
two keys apart, and it tells whoever reads the table nothing about the key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import inspect, select
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from widget_server.db import Database
from widget_server.errors import InstallationError
from widget_server.models import Installation
from widget_server.secrets_ import hmac_equal, keyed_hash
from widget_server.upsert import insert_ignoring_conflict

_LABEL = "installation key fingerprint v1"
#: Where the server's key comes from, for its refusal to start (the CLI names the one it used).
SERVER_KEY_SOURCE = "WIDGET_SECRET_KEY or .data/secret.key"

DatabaseState = Literal["missing", "not_migrated", "migrated"]


def key_fingerprint(secret_key: str) -> str:
    return keyed_hash(secret_key, _LABEL)[:32]


def mask_url(url: str | URL) -> str:
    """The URL as an operator should read it: password hidden, a SQLite path made absolute
    (a relative one is relative to wherever the command ran, which is the whole question)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database or "").resolve()))
    return parsed.render_as_string(hide_password=True)


async def database_state(url: str) -> DatabaseState:
    """Look without creating: a SQLite file is never opened unless it exists (opening one
    creates it), and nothing is written anywhere."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path in ("", ":memory:") or not Path(path).is_file():
            return "missing"
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            migrated = await connection.run_sync(_has_alembic_version)
    except (OSError, SQLAlchemyError) as exc:
        raise InstallationError(
            "install.unreachable", url=mask_url(url), detail=_first_line(exc)
        ) from exc
    finally:
        await engine.dispose()
    return "migrated" if migrated else "not_migrated"


def _has_alembic_version(connection: Connection) -> bool:
    return inspect(connection).has_table("alembic_version")


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the statement and a link to its docs; the driver's first line is
    # the part that says what went wrong (no such database, connection refused, not a file).
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


async def stored_fingerprint(db: Database) -> str | None:
    """Read only. None for a database without one, or from before the table existed."""
    async with db.engine.connect() as connection:
        if not await connection.run_sync(_has_installation):
            return None
        found: str | None = await connection.scalar(_STORED)
        return found


def _has_installation(connection: Connection) -> bool:
    return inspect(connection).has_table(Installation.__tablename__)


_STORED = select(Installation.key_fingerprint).where(Installation.id == 1)


def check_fingerprint(stored: str | None, secret_key: str, *, url: str, source: str) -> None:
    """Raise ``InstallationError`` unless ``stored`` is the fingerprint of ``secret_key``."""
    if stored is None:
        raise InstallationError("install.no_fingerprint", url=url, source=source)
    if not hmac_equal(stored, key_fingerprint(secret_key)):
        raise InstallationError("install.key_mismatch", url=url, source=source)


async def ensure_key_fingerprint(
    db: Database,
    secret_key: str,
    *,
    source: str = SERVER_KEY_SOURCE,
    now: datetime | None = None,
) -> None:
    """Record the key's fingerprint if the (migrated) database has none yet: its first
    start, or the first after an upgrade from before fingerprints. Raise
    ``InstallationError`` if it holds another key's."""
    row = {
        "id": 1,
        "key_fingerprint": key_fingerprint(secret_key),
        "created_at": now or datetime.now(UTC),
    }
    async with db.write() as session:
        # Insert first, read after: of two processes starting at once on a new database,
        # the second waits for the first's row and then compares its key with it.
        await insert_ignoring_conflict(session, Installation, row, ("id",))
        stored = await session.scalar(_STORED)
    check_fingerprint(stored, secret_key, url=mask_url(db.engine.url), source=source)
