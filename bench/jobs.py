"""Background jobs of issue 18: export of a large pool (time, peak RSS) and import of a
large file (rows/s). Prints figures, checks nothing.

    .venv/bin/python bench/jobs.py export --users 1000000            # SQLite in a temp dir
    .venv/bin/python bench/jobs.py import --rows 100000
    .venv/bin/python bench/jobs.py export --users 1000000 --database postgres   # DROPS schema
    .venv/bin/python bench/jobs.py import --rows 100000 --status new  # with invitations
    .venv/bin/python bench/jobs.py export --dir /tmp/users-1m --reuse   # again, no seeding

Each phase runs in a process of its own (``python bench/jobs.py _run …``), so the peak
RSS it reports (``ru_maxrss``) is the export's or import's, over the app's baseline that
it prints too. Seeding writes users straight into the tables (Core executemany) and is
not timed. The job worker runs in the foreground (``JobWorker.drain``) on the real app
(``create_app``), batch by batch, exactly as in a server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from passlib.hash import django_pbkdf2_sha256
from sqlalchemy import insert, text

from widget_server import secrets_
from widget_server.admin.access import Actor, principal_of
from widget_server.db import Database
from widget_server.jobs import service
from widget_server.jobs.export import ExportParams
from widget_server.models import Address, AdminPrincipal, User
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import seed_demo
from widget_server.settings import Settings
from widget_server.web.app import create_app

POOL = "business-1"
POSTGRES = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SEED_CHUNK = 5000
PAYLOAD = {
    "first_name": "Mia",
    "last_name": "Member",
    "company": "Business One",
    "date_of_birth": "1990-05-01",
    "country": "DE",
    "terms": True,
}


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _app(url: str, folder: Path) -> Any:
    settings = Settings(
        database_url=url,
        secret_key="bench-secret-key",  # noqa: S106 - a throwaway database
        jobs_dir=str(folder / "jobs"),
        outbox_poll_seconds=3600,
        webhook_poll_seconds=3600,
    )
    app = create_app(settings, hasher=Argon2Hasher.fast_for_tests())
    for hook in app.on_startup:
        await hook()
    await app.state.jobs.stop()  # jobs run in the foreground, timed
    await app.state.outbox.stop()  # mail is not what is measured
    services = app.state.web.services
    await seed_demo(services.db, services.clock, ["http://127.0.0.1:8001"])
    return app


async def _actor(db: Database) -> Actor:
    now = datetime.now(UTC)
    row = AdminPrincipal(
        id=secrets_.new_id(),
        tenant_id="acme",
        pool_id=POOL,
        kind="api_key",
        role="pool_admin",
        name="bench",
        email=None,
        secret_hash="-",  # noqa: S106 - never used: the bench calls services directly
        created_by=None,
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    async with db.write() as session:
        session.add(row)
    return Actor(principal=principal_of(row))


async def seed_users(db: Database, total: int) -> None:
    now = datetime.now(UTC)
    for start in range(0, total, SEED_CHUNK):
        users, addresses = [], []
        for i in range(start, min(total, start + SEED_CHUNK)):
            user_id = secrets_.new_id()
            users.append(
                {
                    "id": user_id,
                    "pool_id": POOL,
                    "status": "active",
                    "payload": PAYLOAD | {"first_name": f"Mia{i}"},
                    "metadata_": {"team": "blue"},
                    "created_at": now,
                    "updated_at": now,
                    "activated_at": now,
                    "created_by": None,
                    "deleted_at": None,
                }
            )
            addresses.append(
                {
                    "id": secrets_.new_id(),
                    "user_id": user_id,
                    "pool_id": POOL,
                    "kind": "email",
                    "value": f"user{i}@example.com",
                    "status": "verified",
                    "verified_at": now,
                    "created_at": now,
                }
            )
        async with db.write() as session:
            await session.execute(insert(User), users)
            await session.execute(insert(Address), addresses)


def write_file(path: Path, rows: int, status: str) -> None:
    header = "email,status,password_hash," + ",".join(f"payload.{k}" for k in PAYLOAD)
    hash_ = django_pbkdf2_sha256.using(rounds=1000).hash("Blue-Harbour-Kettle-42")
    with path.open("w") as file:
        file.write(header + "\n")
        for i in range(rows):
            cell = hash_ if status == "active" else ""
            values = f"Mia{i},Member,Business One,1990-05-01,DE,true"
            file.write(f"imp{i}@example.com,{status},{cell},{values}\n")


async def run_export(url: str, folder: Path, fmt: str) -> None:
    app = await _app(url, folder)
    services = app.state.web.services
    base = rss_mib()
    actor = await _actor(services.db)
    columns = [
        "id",
        "email",
        "email_status",
        "status",
        "created_at",
        "payload.first_name",
        "metadata",
    ]
    job = await service.start_export(
        services,
        actor,
        POOL,
        ExportParams(format=fmt, columns=columns),  # type: ignore[arg-type]
    )
    started = time.perf_counter()
    await app.state.jobs.drain()
    seconds = time.perf_counter() - started
    done = await service.get_job(services, actor, POOL, job.id)
    size = done.result.get("bytes", 0)
    print(
        f"export {fmt}: {done.done} users in {seconds:.1f} s ({done.done / seconds:,.0f} users/s), "
        f"{size / 1e6:.1f} MB; peak RSS {rss_mib():.0f} MiB (app baseline {base:.0f} MiB); "
        f"status {done.status}"
    )
    for hook in app.on_shutdown:
        await hook()


async def run_import(url: str, folder: Path, rows: int, status: str) -> None:
    app = await _app(url, folder)
    services = app.state.web.services
    actor = await _actor(services.db)
    source = folder / "import.csv"
    write_file(source, rows, status)

    async def chunks() -> Any:
        with source.open("rb") as file:
            while chunk := file.read(1 << 20):
                yield chunk

    base = rss_mib()
    dry = await service.receive_upload(services, actor, POOL, "csv", chunks())
    started = time.perf_counter()
    await app.state.jobs.drain()
    checked = time.perf_counter() - started
    job = await service.start_import(services, actor, POOL, dry.id)
    started = time.perf_counter()
    await app.state.jobs.drain()
    seconds = time.perf_counter() - started
    done = await service.get_job(services, actor, POOL, job.id)
    created = done.result.get("created", 0)
    print(
        f"import ({status}): dry run {rows / checked:,.0f} rows/s ({checked:.1f} s); import "
        f"{created} users in {seconds:.1f} s = {created / seconds:,.0f} rows/s; "
        f"peak RSS {rss_mib():.0f} MiB (baseline {base:.0f} MiB); status {done.status}"
    )
    for hook in app.on_shutdown:
        await hook()


async def prepare(url: str, users: int) -> None:
    folder = Path(tempfile.mkdtemp())
    app = await _app(url, folder)
    started = time.perf_counter()
    await seed_users(app.state.web.services.db, users)
    print(
        f"seeded {users} users in {time.perf_counter() - started:.1f} s (not part of the figures)"
    )
    for hook in app.on_shutdown:
        await hook()


async def reset_postgres(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["export", "import", "_seed", "_export", "_import"])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    parser.add_argument("--status", choices=["active", "new"], default="active")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--url", default="")
    parser.add_argument("--dir", default="", help="where the SQLite file and job files go")
    parser.add_argument(
        "--reuse", action="store_true", help="export: the users seeded in --dir by an earlier run"
    )
    args = parser.parse_args()
    if args.what.startswith("_"):
        folder = Path(args.dir)
        if args.what == "_seed":
            asyncio.run(prepare(args.url, args.users))
        elif args.what == "_export":
            asyncio.run(run_export(args.url, folder, args.format))
        else:
            asyncio.run(run_import(args.url, folder, args.rows, args.status))
        return
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"database and files in {folder}")
    url = f"sqlite+aiosqlite:///{folder / 'widget.db'}"
    reuse = args.reuse and args.what == "export"
    if args.database == "postgres":
        url = args.url or POSTGRES
        if not reuse:
            asyncio.run(reset_postgres(url))
    elif not reuse:
        (folder / "widget.db").unlink(missing_ok=True)
    me = [sys.executable, __file__]
    common = ["--url", url, "--dir", str(folder)]
    if args.what == "export":
        if not reuse:
            subprocess.run([*me, "_seed", "--users", str(args.users), *common], check=True)
        subprocess.run([*me, "_export", "--format", args.format, *common], check=True)
    else:
        subprocess.run(
            [*me, "_import", "--rows", str(args.rows), "--status", args.status, *common], check=True
        )


if __name__ == "__main__":
    main()
