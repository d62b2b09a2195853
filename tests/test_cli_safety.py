"""The CLI cannot silently talk to the wrong place: without ``--create`` it refuses a
database that is not there or not migrated, and refuses to act under a secret key the
database was not set up with (an API key it printed would be refused by the server). Each
command says on stderr which database, tenant and key it uses. The server refuses to start
under the wrong key too. The real CLI (``main``) runs in a temporary folder."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from widget_server import migrate
from widget_server.cli import main
from widget_server.db import Database
from widget_server.errors import InstallationError
from widget_server.installation import key_fingerprint, mask_url, stored_fingerprint
from widget_server.messages import msg
from widget_server.models import AdminPrincipal, Installation
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.settings import Settings
from widget_server.web.app import create_app

PASSWORD = "correct horse battery staple"

NEEDS_THE_DATABASE = [
    ["create-tenant", "--id", "acme", "--name", "ACME"],
    ["create-admin", "--tenant", "acme", "--email", "op@example.com", "--name", "Op"],
    ["create-pool", "--tenant", "acme", "--id", "shop", "--name", "Shop", "--template", "banking"],
    ["issue-api-key", "--tenant", "acme", "--name", "ci"],
    ["signing-keys"],
    ["rotate-signing-key"],
    ["retire-signing-key", "some-kid"],
    ["seed-demo"],
]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder and an environment without any WIDGET_ variable."""
    work = (tmp_path / "work").resolve()
    work.mkdir()
    for name in [n for n in os.environ if n.startswith("WIDGET_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(work)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    yield work


def refusal(*argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    assert isinstance(exited.value.code, str), exited.value.code
    return exited.value.code


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def where_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("widget-server: ")]
    assert len(lines) == 1, lines
    return lines[0]


def issued_key(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(["issue-api-key", *argv])
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("wsk_")
    return key


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Litestar]:
    app = create_app(settings, hasher=Argon2Hasher.fast_for_tests())
    try:  # shut down even when the startup refused: it had opened the database
        for hook in app.on_startup:
            await hook()  # type: ignore[call-arg]
        yield app
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[call-arg]


async def me(settings: Settings, key: str) -> httpx.Response:
    async with running(settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/api/admin/me", headers={"Authorization": f"Bearer {key}"})


async def principals(url: str) -> int:
    db = Database(url)
    try:
        async with db.read() as session:
            return int(await session.scalar(select(func.count()).select_from(AdminPrincipal)) or 0)
    finally:
        await db.dispose()


@pytest.mark.parametrize("argv", NEEDS_THE_DATABASE, ids=lambda argv: argv[0])
def test_without_a_database_every_command_refuses_and_creates_nothing(
    folder: Path, argv: list[str]
) -> None:
    text_ = refusal(*argv)
    url = sqlite_url(folder / ".data" / "widget.db")
    assert text_ == msg("install.no_database", url=url).text()
    assert "--create" in text_ and "WIDGET_DATABASE_URL" in text_
    assert list(folder.iterdir()) == []  # no .data, no database, no secret key


def test_a_sqlite_file_that_is_not_migrated_is_refused_and_left_alone(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = folder / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("create table notes (body text)")
    connection.close()
    monkeypatch.setenv("WIDGET_DATABASE_URL", sqlite_url(path))
    monkeypatch.setenv("WIDGET_SECRET_KEY", "k")
    before = path.read_bytes()
    text_ = refusal("issue-api-key", "--tenant", "acme", "--name", "ci")
    assert text_ == msg("install.not_migrated", url=sqlite_url(path)).text()
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["other.db"]


def test_create_sets_up_the_database_records_the_key_and_says_where(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["create-tenant", "--id", "acme", "--name", "ACME", "--create"])
    database, key_file = folder / ".data" / "widget.db", folder / ".data" / "secret.key"
    assert capsys.readouterr().out.strip() == "tenant acme ready"
    assert database.is_file() and key_file.is_file()
    # Now it exists: the next commands need no --create, and each says where it acts.
    main(
        [
            "create-pool",
            "--tenant",
            "acme",
            "--id",
            "shop",
            "--name",
            "Shop",
            "--template",
            "b2b-employees",
        ]
    )
    assert where_line(capsys) == (
        f"widget-server: database {sqlite_url(database)}; tenant acme; secret key from {key_file}"
    )
    main(["signing-keys"])
    assert "; every tenant; " in where_line(capsys)

    async def stored() -> str | None:
        db = Database(sqlite_url(database))
        try:
            return await stored_fingerprint(db)
        finally:
            await db.dispose()

    assert asyncio.run(stored()) == key_fingerprint(key_file.read_text().strip())


def test_a_key_issued_in_the_servers_folder_works_against_the_server(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["create-tenant", "--id", "acme", "--name", "ACME", "--create"])
    key = issued_key(capsys, "--tenant", "acme", "--name", "ci")
    settings = Settings(
        database_url=sqlite_url(folder / ".data" / "widget.db"),
        secret_key=(folder / ".data" / "secret.key").read_text().strip(),
    )
    answer = asyncio.run(me(settings, key))
    assert answer.status_code == 200 and answer.json()["tenant_id"] == "acme"


@pytest.mark.parametrize(
    "argv",
    [
        ["issue-api-key", "--tenant", "acme", "--name", "ci"],
        ["create-admin", "--tenant", "acme", "--email", "op@example.com", "--name", "Op"],
        ["rotate-signing-key"],
        ["create-tenant", "--id", "other", "--name", "Other", "--create"],  # --create too
    ],
    ids=lambda argv: argv[0],
)
def test_another_secret_key_is_refused_and_no_key_printed(
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    main(["create-tenant", "--id", "acme", "--name", "ACME", "--create"])
    database = sqlite_url(folder / ".data" / "widget.db")
    before = asyncio.run(principals(database))
    capsys.readouterr()
    monkeypatch.setenv("WIDGET_SECRET_KEY", "not-the-servers-key")
    text_ = refusal(*argv)
    assert text_ == msg("install.key_mismatch", url=database, source="WIDGET_SECRET_KEY").text()
    assert "WIDGET_SECRET_KEY" in text_ and ".data/secret.key" in text_
    assert "wsk_" not in capsys.readouterr().out
    assert asyncio.run(principals(database)) == before


def test_from_another_folder_the_database_is_found_but_the_key_is_not_made_up(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["create-tenant", "--id", "acme", "--name", "ACME", "--create"])
    elsewhere = folder.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    database = folder / ".data" / "widget.db"
    monkeypatch.setenv("WIDGET_DATABASE_URL", sqlite_url(database))
    for flags in ([], ["--create"]):  # --create makes new keys for new databases only
        text_ = refusal("issue-api-key", "--tenant", "acme", "--name", "ci", *flags)
        assert text_ == msg("install.no_secret", path=str(elsewhere / ".data/secret.key")).text()
        assert list(elsewhere.iterdir()) == []
    # With the server's key, from anywhere, it works.
    monkeypatch.setenv("WIDGET_SECRET_KEY", (folder / ".data" / "secret.key").read_text().strip())
    capsys.readouterr()
    assert issued_key(capsys, "--tenant", "acme", "--name", "ci")


def test_the_server_refuses_to_start_under_another_key(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(folder / "w.db")
    monkeypatch.setenv("WIDGET_DATABASE_URL", url)
    monkeypatch.setenv("WIDGET_SECRET_KEY", "the-key")
    main(["migrate"])  # records the key it set the database up with

    async def start(key: str) -> None:
        async with running(Settings(database_url=url, secret_key=key)):
            pass

    with pytest.raises(InstallationError) as refused:
        asyncio.run(start("another-key"))
    assert refused.value.message_id == "install.key_mismatch"
    asyncio.run(start("the-key"))
    # serve says so before starting anything, without a traceback; so does the demo.
    monkeypatch.setenv("WIDGET_SECRET_KEY", "another-key")
    source = "WIDGET_SECRET_KEY"
    assert (
        refusal("serve", "--port", "1")
        == msg("install.key_mismatch", url=url, source=source).text()
    )
    assert refusal("demo", "--no-smtp-sink", "--widget-port", "1", "--partner-port", "2") == (
        msg("install.key_mismatch", url=url, source=source).text()
    )


def test_a_database_from_before_fingerprints_gets_one_from_the_server_not_the_cli(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(folder / "w.db")
    monkeypatch.setenv("WIDGET_DATABASE_URL", url)
    monkeypatch.setenv("WIDGET_SECRET_KEY", "the-key")

    async def at_0005() -> None:
        db = Database(url)
        try:
            await migrate.upgrade(db, "0005")
        finally:
            await db.dispose()

    asyncio.run(at_0005())
    # The CLI cannot know whether its key is the server's: it changes nothing and says how.
    text_ = refusal("issue-api-key", "--tenant", "acme", "--name", "ci")
    assert text_ == msg("install.no_fingerprint", url=url, source="WIDGET_SECRET_KEY").text()
    with sqlite3.connect(folder / "w.db") as connection:
        assert connection.execute("select version_num from alembic_version").fetchall() == [
            ("0005",)
        ]
    connection.close()

    async def start() -> None:
        async with running(Settings(database_url=url, secret_key="the-key")):
            pass

    asyncio.run(start())  # the server's first start after the upgrade records its key
    main(["create-tenant", "--id", "acme", "--name", "ACME"])
    assert issued_key(capsys, "--tenant", "acme", "--name", "ci")


def test_the_url_is_shown_with_its_password_masked_and_its_path_absolute(folder: Path) -> None:
    assert mask_url("postgresql+asyncpg://u:hunter2@db/w") == "postgresql+asyncpg://u:***@db/w"
    assert mask_url("sqlite+aiosqlite:///.data/widget.db") == sqlite_url(
        folder / ".data" / "widget.db"
    )


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
async def postgres(folder: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty public schema, and its URL with a password (trust authentication ignores
    it) so that the test can see it masked."""
    await require_postgres()
    await reset_postgres()
    url = make_url(POSTGRES_URL).set(password="hunter2").render_as_string(hide_password=False)
    monkeypatch.setenv("WIDGET_DATABASE_URL", url)
    monkeypatch.setenv("WIDGET_SECRET_KEY", "pg-key")
    return url


async def _installation_rows(url: str) -> int:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            found = await connection.scalar(text("select to_regclass('installation')"))
            if found is None:
                return 0
            return int(await connection.scalar(select(func.count()).select_from(Installation)) or 0)
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgres_schema_must_be_migrated_unless_create(
    postgres: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    masked = mask_url(postgres)
    assert "hunter2" not in masked and "***" in masked
    text_ = await asyncio.to_thread(refusal, "issue-api-key", "--tenant", "acme", "--name", "ci")
    assert text_ == msg("install.not_migrated", url=masked).text()
    assert await _installation_rows(postgres) == 0  # nothing was migrated
    await asyncio.to_thread(main, ["create-tenant", "--id", "acme", "--name", "ACME", "--create"])
    assert where_line(capsys).startswith(f"widget-server: database {masked}; tenant acme;")
    key = await asyncio.to_thread(issued_key, capsys, "--tenant", "acme", "--name", "ci")
    answer = await me(Settings(database_url=postgres, secret_key="pg-key"), key)
    assert answer.status_code == 200 and answer.json()["tenant_id"] == "acme"

    monkeypatch.setenv("WIDGET_SECRET_KEY", "another-key")
    text_ = await asyncio.to_thread(refusal, "issue-api-key", "--tenant", "acme", "--name", "ci")
    assert text_ == msg("install.key_mismatch", url=masked, source="WIDGET_SECRET_KEY").text()
    assert "wsk_" not in capsys.readouterr().out
    with pytest.raises(InstallationError):
        async with running(Settings(database_url=postgres, secret_key="another-key")):
            pass


@pytest.mark.postgres
async def test_postgres_database_that_cannot_be_opened_is_named(
    postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = make_url(postgres).set(database="no_such_database_cli_safety")
    monkeypatch.setenv("WIDGET_DATABASE_URL", missing.render_as_string(hide_password=False))
    text_ = await asyncio.to_thread(refusal, "signing-keys", "--create")
    assert text_.startswith(f"Cannot open the database {mask_url(missing)} (")
    assert "hunter2" not in text_
