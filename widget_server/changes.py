"""Changes every server process must apply at once, told to all of them.

A process caches what it reads on every request: pool snapshots (origins, theme,
self-registration, schema, policy; ``pools.PoolDirectory``) and the signing keys
(``oidc.keys.KeyRing``). When an administrator changes one of them through one process,
the others must not go on with their copies. On PostgreSQL the process that made the
change tells the others through the database every process already shares::

    process A  admin change committed -> PoolDirectory.forget("p1") drops A's copy
               -> publish("pool:p1"): SELECT pg_notify('widget_changes', '<A> pool:p1')
    PostgreSQL -> every process LISTENing on 'widget_changes' (one connection each)
    process B  -> on_change("pool:p1"): B drops its copy; its next request reads anew

A notification reaches the other processes within milliseconds of the commit. It is
delivered at most once: one sent while a listener is reconnecting is lost, so a listener
that (re)connects reports ``None`` ("anything may have changed") and every cache drops
everything. The caches expire on their own as well (pool snapshots after 5 s), as the
backstop should the listener be down for longer.

On SQLite there is no feed (``LocalFeed``): it is one machine, and mostly one process.
The workers of ``serve --workers N`` on SQLite see another worker's change when their
copy expires (5 s for pools; signing keys are published ahead for longer than their
60 s).

The listener needs a session of its own: behind PgBouncer in transaction mode, point
``WIDGET_DATABASE_URL`` at PostgreSQL directly or rely on the 5 s expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]

from widget_server import secrets_
from widget_server.db import Database

log = logging.getLogger(__name__)

CHANNEL = "widget_changes"
#: What a handler is told: a topic ("pool:<id>", "keys"), or None: anything may have
#: changed (the listener was away and may have missed notifications).
ChangeHandler = Callable[[str | None], None]
#: A listener's connection is checked this often, so one that died without a word (a
#: network partition) is noticed and replaced.
PING_SECONDS = 15.0
RECONNECT_SECONDS = (0.5, 10.0)


class ChangeFeed(Protocol):
    def subscribe(self, handler: ChangeHandler) -> None:
        """Call ``handler`` for every change another process publishes."""
        ...

    def publish(self, topic: str) -> None:
        """Tell the other processes (the caller has applied the change itself). Returns
        at once; ``close`` waits for what is still being sent."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalFeed:
    """One process: nobody else to tell."""

    def subscribe(self, handler: ChangeHandler) -> None:
        pass

    def publish(self, topic: str) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class PostgresFeed:
    """PostgreSQL LISTEN/NOTIFY: notifications go out on a pooled connection, and come in
    on one connection of this process's own, kept open and re-opened when it drops."""

    def __init__(self, db: Database, *, listen: bool = True) -> None:
        self._db = db
        self._listen = listen
        #: This process's notifications come back to it too: they carry its id and are skipped.
        self._origin = secrets_.new_token()[:16]
        self._handlers: list[ChangeHandler] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        #: Set while the listener is connected; how many times it has connected so far.
        self.connected = asyncio.Event()
        self.connects = 0

    def subscribe(self, handler: ChangeHandler) -> None:
        self._handlers.append(handler)

    def publish(self, topic: str) -> None:
        task = asyncio.get_running_loop().create_task(self._notify(topic))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def start(self) -> None:
        if self._listen and self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="change-listener")

    async def close(self) -> None:
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=5)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _notify(self, topic: str) -> None:
        try:
            await self._db.call("SELECT pg_notify($1, $2)", CHANNEL, f"{self._origin} {topic}")
        except Exception as error:  # the others' caches expire anyway: not the caller's failure
            log.warning("could not tell the other processes about %s: %s", topic, error)

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        origin, _, topic = payload.partition(" ")
        if origin != self._origin and topic:
            self._tell(topic)

    def _tell(self, topic: str | None) -> None:
        for handler in self._handlers:
            try:
                handler(topic)
            except Exception:  # one bad handler must not starve the others
                log.exception("change handler failed for %s", topic)

    async def _listen_forever(self) -> None:
        delay = RECONNECT_SECONDS[0]
        while True:
            # Anything at all is retried: a listener that died would leave every cache in
            # this process to its expiry, without a word.
            try:
                connection = await self._connect()
            except Exception as error:
                log.warning("change listener: cannot connect (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_SECONDS[1])
                continue
            delay = RECONNECT_SECONDS[0]
            try:
                await self._serve(connection)
            except Exception as error:
                log.warning("change listener: connection lost (%s); reconnecting", error)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))

    async def _connect(self) -> Any:
        engine = self._db.engine
        _, params = engine.dialect.create_connect_args(engine.url)
        # The URL may carry options of SQLAlchemy's adapter (prepared_statement_cache_size):
        # keep those asyncpg.connect takes.
        accepted = inspect.signature(asyncpg.connect).parameters
        kept = {k: v for k, v in params.items() if k in accepted}
        # Named, so an operator looking at pg_stat_activity knows what the idle session is.
        settings = {"application_name": "widget-server changes", **kept.pop("server_settings", {})}
        return await asyncpg.connect(**kept, server_settings=settings, timeout=10)

    async def _serve(self, connection: Any) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c: lost.set())
        await connection.add_listener(CHANNEL, self._received)
        # Whatever was published while nobody listened is lost: assume everything changed.
        self._tell(None)
        self.connects += 1
        self.connected.set()
        while not lost.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), PING_SECONDS)
            if not lost.is_set():
                await asyncio.wait_for(connection.fetchval("SELECT 1"), 5)


def make_feed(db: Database, *, listen: bool = True) -> ChangeFeed:
    """LISTEN/NOTIFY on PostgreSQL; nothing on SQLite (one process). ``listen=False``:
    publish only (a CLI command that changes something and exits)."""
    return LocalFeed() if db.is_sqlite else PostgresFeed(db, listen=listen)
