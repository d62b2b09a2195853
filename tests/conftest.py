"""Shared fixtures: a real database (SQLite always, PostgreSQL when reachable), the app
wired with an in-memory mail sender, a manual clock and cheap argon2 parameters.

PostgreSQL: tests marked ``postgres`` use ``TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/test``). They skip when it is not
reachable, unless ``TEST_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.admin.keys import AdminClient, MakeKey, insert_key
from widget_server import migrate
from widget_server.admin.access import Role
from widget_server.clock import ManualClock
from widget_server.db import Database
from widget_server.mail.outbox import OutboxWorker
from widget_server.mail.senders import MemorySender
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import seed_demo
from widget_server.settings import Settings
from widget_server.web.app import create_app
from widget_server.web.shared.context import WebContext

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PARTNER = "http://127.0.0.1:8001"


async def _postgres_reachable() -> bool:
    db = Database(POSTGRES_URL)
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("select 1"))
        return True
    except (OSError, Exception):
        return False
    finally:
        await db.dispose()


_PG: list[bool] = []


async def require_postgres() -> None:
    if not _PG:
        _PG.append(await _postgres_reachable())
    if not _PG[0]:
        if os.environ.get("TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(
                f"PostgreSQL required (TEST_REQUIRE_POSTGRES=1) but {POSTGRES_URL} is unreachable"
            )
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")


async def reset_postgres() -> None:
    """An empty ``public`` schema, for tests that migrate it themselves."""
    db = Database(POSTGRES_URL)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


#: The schema a full migration to head leaves on PostgreSQL (columns, indexes, functions),
#: taken once per session: a test finding it unchanged only empties the tables.
_PG_SHAPE: list[str] = []
_SHAPE = text(
    """
    SELECT md5(coalesce((SELECT string_agg(table_name || '.' || column_name || ':' || data_type,
                                           ',' ORDER BY table_name, column_name)
                         FROM information_schema.columns WHERE table_schema = 'public'), '')
               || coalesce((SELECT string_agg(indexdef, ',' ORDER BY indexdef)
                            FROM pg_indexes WHERE schemaname = 'public'), '')
               || coalesce((SELECT string_agg(proname || md5(prosrc), ',' ORDER BY proname)
                            FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace
                            WHERE nspname = 'public'), '')
               || coalesce((SELECT string_agg(version_num, ',') FROM alembic_version), ''))
    """
)


_TABLES = text(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
)
_SEQUENCES = text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")


async def _as_migrated(conn: AsyncConnection) -> bool:
    """Whether the schema is exactly what migrating to head made this session."""
    if not _PG_SHAPE:
        return False
    version = await conn.execute(text("SELECT to_regclass('public.alembic_version')"))
    if version.scalar_one() is None:
        return False
    return bool((await conn.execute(_SHAPE)).scalar_one() == _PG_SHAPE[0])


async def migrated_postgres() -> None:
    """PostgreSQL at the head revision with no rows, as a fresh migration leaves it. A full
    rebuild (drop, migrate) costs seconds on this disk; when the previous test left the
    schema as migrations made it, emptying the tables and restarting the sequences gives
    the same database in a few milliseconds."""
    db = Database(POSTGRES_URL)
    try:
        async with db.engine.begin() as conn:
            if await _as_migrated(conn):
                tables = list((await conn.execute(_TABLES)).scalars())
                sequences = list((await conn.execute(_SEQUENCES)).scalars())
                # Foreign keys are triggers: off for this transaction, every row goes.
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
                for table in tables:
                    await conn.execute(text(f'DELETE FROM "{table}"'))
                for sequence in sequences:
                    await conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
                return
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(db)
        async with db.engine.begin() as conn:
            _PG_SHAPE[:] = [(await conn.execute(_SHAPE)).scalar_one()]
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per session; tests get a copy."""
    path = tmp_path_factory.mktemp("template") / "widget.db"

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await migrate.upgrade(db)
        await db.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path) -> str:
    """An empty database of each kind, for tests that migrate it themselves."""
    if backend == "postgres":
        await require_postgres()
        await reset_postgres()
        return POSTGRES_URL
    return f"sqlite+aiosqlite:///{tmp_path / 'widget.db'}"


@pytest.fixture
async def migrated_database_url(backend: str, tmp_path: Path, sqlite_template: Path) -> str:
    """A database of each kind at the head revision with no rows, as the app's start would
    leave it, without paying for the migration in every test."""
    if backend == "postgres":
        await require_postgres()
        await migrated_postgres()
        return POSTGRES_URL
    path = tmp_path / "widget.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sender() -> MemorySender:
    return MemorySender()


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    return Settings(
        database_url=migrated_database_url,
        secret_key="test-secret-key",
        outbox_poll_seconds=0.05,
        public_url="http://localhost:8000",
        # Test receivers listen on 127.0.0.1 (tests/webhooks); production keeps this off.
        webhooks_allow_private=True,
        webhook_poll_seconds=0.05,
    )


@dataclass
class Harness:
    app: Litestar
    client: httpx.AsyncClient
    clock: ManualClock
    sender: MemorySender
    settings: Settings

    @property
    def web(self) -> WebContext:
        context: WebContext = self.app.state.web
        return context

    @property
    def outbox(self) -> OutboxWorker:
        worker: OutboxWorker = self.app.state.outbox
        return worker

    async def deliver(self) -> None:
        """Run the outbox once, now, instead of waiting for the background worker."""
        await self.outbox.deliver_due()

    def codes_for(self, address: str) -> list[str]:
        found = []
        for envelope in self.sender.sent:
            if envelope.recipient.lower() == address.lower():
                match = re.search(r"\b(\d{6})\b", envelope.subject)
                if match:
                    found.append(match.group(1))
        return found


@pytest.fixture
async def harness(
    settings: Settings, clock: ManualClock, sender: MemorySender
) -> AsyncIterator[Harness]:
    app = create_app(settings, clock=clock, sender=sender, hasher=Argon2Hasher.fast_for_tests())
    # httpx's ASGI transport runs the app on the test's own event loop (Litestar's
    # TestClient uses a second loop in a thread, which breaks asyncpg and concurrency).
    # Lifespan hooks are called directly: pytest-asyncio tears fixtures down in another
    # task, where an anyio cancel scope from app.lifespan() could not be exited.
    for hook in app.on_startup:
        await hook()  # type: ignore[misc]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://widget.test") as client:
            await seed_demo(app.state.web.services.db, clock, [PARTNER])
            yield Harness(app, client, clock, sender, settings)
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[misc]


async def deliver_all(h: Harness) -> None:
    """Deliver every due message now."""
    while await h.outbox.deliver_due():
        pass


async def rows(h: Harness, model: Any) -> list[Any]:
    async with h.web.services.db.read() as session:
        return list((await session.execute(select(model))).scalars())


async def count(h: Harness, model: Any) -> int:
    async with h.web.services.db.read() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


@pytest.fixture
async def manual_outbox(harness: Harness) -> None:
    """Tests deliver mail themselves; the background worker would race with the counts."""
    await harness.outbox.stop()


@dataclass
class FlowPage:
    """A response of the widget, read the way a test wants it: by ids and data-* hooks."""

    response: httpx.Response
    pool: str
    hidden: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("flow_id", "csrf_token", "flow_ticket", "step"):
            match = re.search(rf'name="{name}" value="([^"]+)"', self.response.text)
            if match:
                self.hidden[name] = match.group(1)

    @property
    def status(self) -> int:
        return self.response.status_code

    @property
    def text(self) -> str:
        return self.response.text

    @property
    def state(self) -> str | None:
        match = re.search(r'id="ws-card" data-state="([a-z]+)"', self.text)
        return match.group(1) if match else None

    @property
    def step(self) -> str | None:
        match = re.search(r'data-step="([a-z_0-9-]+)"', self.text)
        return match.group(1) if match else None

    @property
    def message_ids(self) -> list[str]:
        return re.findall(r'data-message-id="([a-z_.]+)"', self.text)

    def field_errors(self, name: str) -> list[str]:
        block = re.search(
            rf'data-field="{re.escape(name)}".*?<ul class="ws-errors"[^>]*>(.*?)</ul>',
            self.text,
            re.S,
        )
        return re.findall(r'data-message-id="([a-z_.]+)"', block.group(1)) if block else []

    @property
    def flow_id(self) -> str:
        return self.hidden["flow_id"]


class Widget:
    """Drives one pool's registration over HTTP, as the browser would."""

    def __init__(self, harness: Harness, pool: str, htmx: bool = True) -> None:
        self.h, self.pool, self.htmx = harness, pool, htmx
        self.page: FlowPage | None = None

    @property
    def path(self) -> str:
        return f"/embed/{self.pool}/register"

    def _headers(self) -> dict[str, str]:
        return {"HX-Request": "true"} if self.htmx else {}

    async def open(self, **params: str) -> FlowPage:
        response = await self.h.client.get(
            self.path, params=params or {"parent_origin": PARTNER}, headers=self._headers()
        )
        self.page = FlowPage(response, self.pool)
        return self.page

    async def post(self, suffix: str = "", data: Any = None, **fields: str) -> FlowPage:
        assert self.page is not None
        hidden = dict(self.page.hidden)
        if suffix:
            # The code and resend forms are separate <form>s: no step field in them.
            hidden.pop("step", None)
        body: Any = data if data is not None else {**hidden, **fields}
        response = await self.h.client.post(self.path + suffix, data=body, headers=self._headers())
        if response.status_code == 303:
            response = await self.h.client.get(response.headers["location"])
        page = FlowPage(response, self.pool)
        if page.hidden:
            self.page = page
        return page

    async def code(self, code: str) -> FlowPage:
        return await self.post("/code", code=code)

    async def resend(self) -> FlowPage:
        return await self.post("/resend")


@pytest.fixture
def widget(harness: Harness) -> Iterator[Any]:
    def make(pool: str = "partner-1", htmx: bool = True) -> Widget:
        return Widget(harness, pool, htmx)

    yield make


# --- administration ----------------------------------------------------------------------


@pytest.fixture
def make_key(harness: Harness) -> MakeKey:
    """``await make_key(role, pool_id=None)``: an API-key principal of the demo tenant and a
    client that sends it."""

    async def make(role: Role, pool_id: str | None = None, **kwargs: Any) -> AdminClient:
        return await insert_key(harness, role, pool_id, **kwargs)

    return make


@pytest.fixture
async def operator(make_key: MakeKey) -> AdminClient:
    """A tenant admin of the demo tenant."""
    return await make_key("tenant_admin")
