"""The studio's "try it" sandboxes: the real registration and login against a draft
theme, with nothing stored in the pool.

A sandbox is a copy of one pool (its row, its tenant's and its schemas, so the same
schema, policy and activation methods) in a private SQLite database of its own, a
temporary file removed when the sandbox closes. Its ``Services`` differ from the
server's only in that database, a pool directory that answers the copy (renamed to the
sandbox id, the draft theme as its only layer, framable by our own origin only, no
webhook subscriptions, no apps), and metrics and a funnel recorder of its own, never
exported nor flushed. The flows run unchanged on them; whatever they write (users,
flows, codes, outbox rows) goes to the sandbox's file. Its outbox is delivered on
demand to a ``MemorySender`` and a ``MemorySms``, whose messages the try-it page shows.

Who may use one: the person who opened it (a signed-in portal user allowed to read the
theme in that pool, checked by ``preview_theme``), and only while their portal session
lives. The sandbox's pages are reached with a cookie of its own (``secret``); each
request checks that session again (``session_alive``), so signing out ends the sandbox.

Bounds: a sandbox lives ``TTL`` (then it is closed at the next open or lookup); a
session keeps at most ``PER_SESSION`` (opening another closes its oldest); a process
at most ``MAX_OPEN`` (beyond that ``Overloaded``). Sandboxes live in the process that
opened them.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from widget_server import migrate
from widget_server.branding.layers import Layers, LayerSource
from widget_server.branding.tokens import layer_of
from widget_server.db import Database
from widget_server.errors import Overloaded, PoolNotFound
from widget_server.mail.outbox import OutboxWorker
from widget_server.mail.senders import MemorySender
from widget_server.models import AdminPrincipal, AdminSession, Base
from widget_server.observe.telemetry import Telemetry
from widget_server.pools import PoolDirectory, PoolView
from widget_server.services import Services
from widget_server.sms.provider import MemorySms
from widget_server.themes import Theme

TTL = timedelta(minutes=30)
PER_SESSION = 2
MAX_OPEN = 16
#: Sandbox ids: never a real pool's (pool ids are lower-case slugs without "_").
PREFIX = "try_"
#: The sandbox's own cookie (``Path`` its ``/embed/{id}``), holding ``Sandbox.secret``.
COOKIE = "ws_tryit"
_ID = re.compile(r"try_[0-9a-f]{24}")
DB_FILE = "sandbox.db"


def is_sandbox_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


class SandboxPools(PoolDirectory):
    """The pool directory of a sandbox: the one copied pool, nothing else."""

    def __init__(self, db: Database, view: PoolView) -> None:
        super().__init__(db)
        self.view = view

    async def get(self, pool_id: str) -> PoolView:
        if pool_id != self.view.id:
            raise PoolNotFound()
        return self.view


@dataclass(frozen=True, kw_only=True)
class Message:
    """One message the sandbox would have sent (an email or a text)."""

    to: str
    subject: str
    body: str
    code: str | None


@dataclass(kw_only=True)
class Sandbox:
    id: str
    #: The value of the sandbox's own cookie (compared in constant time).
    secret: str
    #: The portal session that opened it (its keyed hash, as stored).
    session_hash: str
    theme_id: str
    theme_name: str
    pool_name: str
    services: Services
    expires_at: datetime
    directory: Path
    _mail: MemorySender = field(default_factory=MemorySender)
    _sms: MemorySms = field(default_factory=MemorySms)

    def owned_by(self, session_hash: str) -> bool:
        return secrets.compare_digest(self.session_hash, session_hash)

    def opens_with(self, secret: str | None) -> bool:
        return secret is not None and secrets.compare_digest(self.secret, secret)

    async def messages(self) -> list[Message]:
        """What it has sent so far, newest first (the outbox is delivered first)."""
        worker = OutboxWorker(
            self.services.db,
            self._mail,
            self.services.clock,
            60.0,
            sms=self._sms,
            metrics=self.services.telemetry.metrics,
        )
        while await worker.deliver_due():
            pass
        found = [
            Message(to=e.recipient, subject=e.subject, body=e.body_text, code=_code(e.subject))
            for e in self._mail.sent
        ]
        found += [
            Message(to=t.to, subject="", body=t.body, code=_code(t.body)) for t in self._sms.sent
        ]
        return found[::-1]

    async def close(self) -> None:
        await self.services.db.dispose()
        shutil.rmtree(self.directory, ignore_errors=True)


def _code(text: str) -> str | None:
    match = re.search(r"\b(\d{6,8})\b", text)
    return match.group(1) if match else None


class Sandboxes:
    """This process's open sandboxes."""

    def __init__(self) -> None:
        self._open: dict[str, Sandbox] = {}
        # An empty, migrated database, made once and copied for each sandbox: copying is
        # fast, and alembic's module-level context cannot run two upgrades at once.
        self._template: Path | None = None
        self._making = asyncio.Lock()

    async def open(
        self,
        services: Services,
        *,
        session_hash: str,
        pool: PoolView,
        theme: Theme,
        theme_id: str,
        theme_name: str,
    ) -> Sandbox:
        """A new sandbox of ``pool`` drawn with ``theme`` (a checked, resolved draft; the
        caller has checked that the person may read both)."""
        now = services.clock.now()
        await self._expire(now)
        mine = sorted(
            (s for s in self._open.values() if s.owned_by(session_hash)),
            key=lambda s: s.expires_at,
        )
        for old in mine[: max(0, len(mine) - PER_SESSION + 1)]:
            await self.close(old.id)
        if len(self._open) >= MAX_OPEN:
            raise Overloaded(retry_after=60)
        sandbox_id = PREFIX + secrets.token_hex(12)
        template = await self._empty_database()
        directory = Path(tempfile.mkdtemp(prefix="widget-tryit-"))
        await asyncio.to_thread(shutil.copytree, template.parent, directory, dirs_exist_ok=True)
        db = Database(f"sqlite+aiosqlite:///{directory / DB_FILE}")
        try:
            await _copy_pool(services.db, db, pool.id, sandbox_id)
        except BaseException:
            await db.dispose()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        view = _sandbox_view(pool, sandbox_id, theme, theme_id, theme_name, services)
        sandbox = Sandbox(
            id=sandbox_id,
            secret=secrets.token_urlsafe(32),
            session_hash=session_hash,
            theme_id=theme_id,
            theme_name=theme_name,
            pool_name=pool.name,
            services=Services(
                settings=services.settings,
                db=db,
                clock=services.clock,
                hashing=services.hashing,
                pools=SandboxPools(db, view),
                composer=services.composer,
                # Metrics and a funnel of its own, never exported nor flushed: its
                # sign-ups are not the pool's.
                telemetry=Telemetry.build(db, services.clock),
            ),
            expires_at=now + TTL,
            directory=directory,
        )
        self._open[sandbox_id] = sandbox
        return sandbox

    async def find(self, sandbox_id: str, now: datetime) -> Sandbox | None:
        await self._expire(now)
        return self._open.get(sandbox_id)

    async def close(self, sandbox_id: str) -> None:
        sandbox = self._open.pop(sandbox_id, None)
        if sandbox is not None:
            await sandbox.close()

    async def close_all(self) -> None:
        for sandbox_id in list(self._open):
            await self.close(sandbox_id)
        if self._template is not None:
            shutil.rmtree(self._template.parent, ignore_errors=True)
            self._template = None

    async def _empty_database(self) -> Path:
        async with self._making:
            if self._template is None:
                path = Path(tempfile.mkdtemp(prefix="widget-tryit-template-")) / DB_FILE
                db = Database(f"sqlite+aiosqlite:///{path}")
                try:
                    await migrate.upgrade(db)
                finally:
                    # Closing the last connection folds the WAL into the file.
                    await db.dispose()
                self._template = path
            return self._template

    def __len__(self) -> int:
        return len(self._open)

    async def _expire(self, now: datetime) -> None:
        for sandbox_id in [k for k, s in self._open.items() if s.expires_at <= now]:
            await self.close(sandbox_id)


def _sandbox_view(
    pool: PoolView,
    sandbox_id: str,
    theme: Theme,
    theme_id: str,
    theme_name: str,
    services: Services,
) -> PoolView:
    layer = layer_of(theme)
    source = LayerSource(level="pool", theme_id=theme_id, theme_name=theme_name)
    own = _origin(services.settings.public_url)
    return PoolView(
        **{
            **{f: getattr(pool, f) for f in pool.__struct_fields__},
            "id": sandbox_id,
            "theme_layers": (layer,),
            "theme_sources": Layers(tokens=(layer,), sources=(source,)),
            "app_theme_layers": {},
            "allowed_origins": (own,),
            "app_origins": (),
            "webhook_events": frozenset(),
            "workspace_id": None,
        }
    )


def _origin(url: str) -> str:
    match = re.match(r"[a-z]+://[^/]+", url)
    return match.group(0) if match else url


async def _copy_pool(source: Database, target: Database, pool_id: str, sandbox_id: str) -> None:
    """The pool's row (renamed), its tenant's and its schemas', nothing else."""
    tables = Base.metadata.tables
    pools, tenants, schemas = tables["pools"], tables["tenants"], tables["schemas"]
    async with source.read() as session:
        pool = (await session.execute(select(pools).where(pools.c.id == pool_id))).mappings().one()
        tenant = (
            (await session.execute(select(tenants).where(tenants.c.id == pool["tenant_id"])))
            .mappings()
            .one()
        )
        schema_ids = {pool["payload_schema_id"], pool["metadata_schema_id"]} - {None}
        found = (
            (await session.execute(select(schemas).where(schemas.c.id.in_(schema_ids))))
            .mappings()
            .all()
        )
    async with target.write() as session:
        await session.execute(insert(tenants).values(dict(tenant)))
        for row in found:
            await session.execute(insert(schemas).values(dict(row)))
        await session.execute(
            insert(pools).values({**dict(pool), "id": sandbox_id, "workspace_id": None})
        )


async def session_alive(services: Services, session_hash: str) -> bool:
    """Whether the portal session that opened a sandbox is still signed in."""
    async with services.db.read() as session:
        found = (
            await session.execute(
                select(AdminSession.expires_at, AdminPrincipal.revoked_at)
                .join(AdminPrincipal, AdminPrincipal.id == AdminSession.principal_id)
                .where(AdminSession.token_hash == session_hash)
            )
        ).first()
    return found is not None and found[0] > services.clock.now() and found[1] is None
