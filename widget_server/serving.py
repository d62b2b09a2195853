"""``widget-server serve --workers N``: N server processes on one listening socket.

uvicorn's own supervisor runs the workers (``uvicorn.run(..., workers=N)``): it starts
them on one shared socket, restarts one that dies, and stops them all on Ctrl+C or
SIGTERM. uvicorn is what one ``serve`` runs already; granian (the ``bench`` extra) was
no faster here beside argon2 (bench/README.md), and one server to know is simpler.

Before any worker starts, this process checks the database and the secret key and
migrates, once: N workers migrating a new database at the same moment would race. Each
worker then builds the app from the same ``WIDGET_*`` settings (``worker_app``) and
hashes on ``cores / N`` threads, at least one (``hash_slots_per_worker``): N processes
each taking a thread per core would run N times as many hashes as there are cores, every
one of them slower, and each process's admission would count on a rate it cannot have.

Counters that must hold across processes (the login throttle) need
``WIDGET_REDIS_URL``; without it each worker counts on its own, which the startup log says.

Metrics of every worker add up at ``/metrics`` whichever worker answers: before the
workers start, ``PROMETHEUS_MULTIPROC_DIR`` is pointed at a new empty directory of this
run (prometheus-client's multiprocess mode; ``observe/metrics.py``), removed when the
server stops. Logs: each worker sets up the JSON log handler itself (``WIDGET_LOG_*``),
since a spawned process starts without the parent's logging.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

import uvicorn
from litestar import Litestar

if sys.platform != "win32":
    import uvloop

from widget_server import cli_target, migrate
from widget_server.db import Database
from widget_server.errors import InstallationError
from widget_server.observe import logs
from widget_server.settings import Settings, cores
from widget_server.web.app import create_app

log = logging.getLogger("widget_server")
#: prometheus-client's own variable (read by the library as it is imported).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def hash_slots_per_worker(settings: Settings, workers: int) -> int:
    """Hash threads per process: ``hash_slots`` if set, else this machine's cores shared
    by the workers, at least one each."""
    return settings.hash_slots or max(1, cores() // workers)


def serve_workers(args: argparse.Namespace) -> None:
    """Prepare once, then hand over to uvicorn's supervisor (blocks until stopped)."""
    settings = Settings.from_env()
    logs.configure(settings.log_format, settings.log_level)
    source = cli_target.key_source(settings)
    settings = settings.with_secret(cli_target.DATA_DIR)
    run = asyncio.run if sys.platform == "win32" else uvloop.run
    try:
        run(_prepare(settings, source))
    except InstallationError as exc:
        raise SystemExit(str(exc)) from None
    slots = hash_slots_per_worker(settings, args.workers)
    # The workers read their settings from the environment they inherit (and the key
    # from the file with_secret made, as this process did).
    os.environ["WIDGET_HASH_SLOTS"] = str(slots)
    if not settings.redis_url:
        log.warning(
            "%d workers without WIDGET_REDIS_URL: each counts login attempts on its own",
            args.workers,
        )
    log.info("%d workers, %d hash thread(s) each", args.workers, slots)
    with metrics_directory():
        _run_workers(args)


@contextlib.contextmanager
def metrics_directory() -> Iterator[str]:
    """A new empty directory for the workers' metric files, for this run only (an old
    run's files would add dead workers' counts). One set by the operator is kept."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        yield given
        return
    path = tempfile.mkdtemp(prefix="widget-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def _run_workers(args: argparse.Namespace) -> None:
    uvicorn.run(
        "widget_server.serving:worker_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        backlog=4096,
        proxy_headers=False,
        log_config=None,  # each worker's own handler (worker_app)
        loop="asyncio" if sys.platform == "win32" else "uvloop",
        # A worker must answer the supervisor's ping within this, or it is killed and
        # started again: 5 s (uvicorn's default) killed workers still importing on a busy
        # machine, and a restart only costs the same again.
        timeout_worker_healthcheck=30,
    )


async def _prepare(settings: Settings, source: str) -> None:
    await cli_target.check_before_serving(settings, source)
    db = Database(settings.database_url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()


def worker_app() -> Litestar:
    """One worker's app (uvicorn calls this in each worker process); the parent migrated."""
    settings = Settings.from_env().with_secret(cli_target.DATA_DIR, create=False)
    logs.configure(settings.log_format, settings.log_level)
    return create_app(settings, migrate_on_start=False)
