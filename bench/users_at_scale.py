"""Listing and searching a pool of a million users through the admin API, on PostgreSQL
(a benchmark: it prints figures, it does not assert them).

    .venv/bin/python bench/users_at_scale.py [--users 1000000] [--repeats 60]
        [--postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_users]
        [--reuse] [--explain] [--seed-only]

One run: a fresh schema (migrate, seed-demo), then ``--users`` users with an email each
COPYed into pool ``business-1`` (first/last name, company; about 1 M rows a minute
here, the indexes of migration 0009 kept as rows go in), ``ANALYZE``, then one
``widget-server serve`` and, through HTTP with an API key, ``--repeats`` sequential
requests of each query:

- first page (newest first, 50 rows, with its total);
- deep page (the page at 90 % of the pool, reached by its cursor);
- address prefix, address substring, name substring; a company (``x-searchable``) part.

Printed: p50 / p95 / max per query (target p95 <= 100 ms), and with ``--explain`` the
plan of each query's SQL (``EXPLAIN (ANALYZE, BUFFERS)``; for a text search, the one
statement that pages and counts it), to see the indexes used and the pages read. ``--reuse``
keeps the users seeded by an earlier run (same URL); ``--seed-only`` stops after seeding;
``--plans-only`` prints the plans without the HTTP measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import asyncpg  # type: ignore[import-untyped]
import httpx
import registration as reg  # bench/registration.py, beside this script
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from widget_server.users import search

POOL = "business-1"
FIRST = ("anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ida", "jonas")
SYLLABLES = ("ka", "ro", "mi", "te", "lu", "sa", "no", "vi")
SYLLABLES += ("de", "ba", "ri", "po", "ze", "fa", "gu", "le")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell")
START = datetime(2024, 1, 1, tzinfo=UTC)


def surname(n: int) -> str:
    """A made-up family name from ``n``: 16^4 of them, so a part of one is selective."""
    parts = [SYLLABLES[(n >> shift) & 15] for shift in (0, 4, 8, 12)]
    return "".join(parts).capitalize()


def user_rows(start: int, count: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    users, addresses = [], []
    rng = random.Random(start)  # noqa: S311 (made-up ids for a benchmark)
    for n in range(start, start + count):
        user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        created = START + timedelta(seconds=n * 30)
        email = f"user{n:07d}.{surname(n * 7919).lower()}@mail{n % 50}.example"
        payload = {
            "first_name": FIRST[n % len(FIRST)].capitalize(),
            "last_name": surname(n * 7919),
            "company": f"{COMPANIES[n % len(COMPANIES)]} {n % 1000}",
        }
        active = n % 5 != 0
        users.append(
            (user_id, POOL, "active" if active else "new", json.dumps(payload), "{}",
             created, created, created if active else None, None, None,
             created + timedelta(days=n % 40) if active and n % 3 else None, email)
        )
        addresses.append(
            (str(uuid.UUID(int=rng.getrandbits(128), version=4)), user_id, POOL, "email", email,
             "verified" if active else "unverified", created if active else None, created)
        )
    return users, addresses


USER_COLUMNS = [
    "id", "pool_id", "status", "payload", "metadata", "created_at", "updated_at",
    "activated_at", "created_by", "deleted_at", "last_login_at", "sort_address",
]
ADDRESS_COLUMNS = [
    "id", "user_id", "pool_id", "kind", "value", "status", "verified_at", "created_at",
]


def plain_url(url: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"refusing a non-local database: {parts.hostname}")
    return parts.geturl()


async def seed_users(url: str, total: int, batch: int = 50_000) -> float:
    """COPY ``total`` users and their addresses; seconds taken. ``sort_address`` is
    given, so the address trigger is switched off for the session (``replica`` role)."""
    began = time.perf_counter()
    conn = await asyncpg.connect(plain_url(url))
    # Secondary indexes are dropped for the load and built again after it, as bulk loads
    # do: a trigram GIN kept up row by row makes the load ten times slower.
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('users', 'addresses') "
        "AND indexdef NOT LIKE 'CREATE UNIQUE%'"
    )
    for row in indexes:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    try:
        await conn.execute("SET session_replication_role = replica")
        for start in range(0, total, batch):
            users, addresses = user_rows(start, min(batch, total - start))
            async with conn.transaction():
                await conn.copy_records_to_table("users", records=users, columns=USER_COLUMNS)
                await conn.copy_records_to_table(
                    "addresses", records=addresses, columns=ADDRESS_COLUMNS
                )
            print(f"  seeded {start + len(users):>9,} users  {time.perf_counter() - began:6.1f} s",
                  flush=True)
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for row in indexes:
            await conn.execute(row["indexdef"])
        print(f"  indexes built         {time.perf_counter() - began:6.1f} s", flush=True)
        await conn.execute("ANALYZE users; ANALYZE addresses")
    finally:
        await conn.close()
    return time.perf_counter() - began


async def deep_cursor(url: str, total: int) -> str:
    """The cursor of the page at 90 % of the pool, newest first."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        row = await conn.fetchrow(
            "SELECT created_at, id FROM users WHERE pool_id = $1 AND status <> 'deleted' "
            "ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
            POOL,
            int(total * 0.9),
        )
    finally:
        await conn.close()
    position = search.Position("-created", "a", row["created_at"].isoformat(), row["id"])
    return search.encode_cursor(position)


def queries(total: int, cursor: str) -> dict[str, dict[str, str]]:
    probe = total // 3
    return {
        "first page": {},
        "deep page (90 %)": {"cursor": cursor},
        "address prefix": {"prefix": f"user{probe:07d}"[:9]},
        "address substring": {"q": surname(probe * 7919).lower()[2:7]},
        "name substring": {"name": surname(probe * 7919).lower()[1:6]},
        "company part (x-searchable)": {"field": "company", "value": "umbrella 42"},
    }


async def measure(port: int, key: str, params: dict[str, str], repeats: int) -> list[float]:
    timings: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    url = f"http://{reg.HOST}:{port}/api/admin/pools/{POOL}/users"
    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        first = await client.get(url, params=params)
        first.raise_for_status()
        body = first.json()
        print(f"    {len(body['items'])} rows, total {body['total']:,} ({body['total_kind']})")
        for _ in range(repeats):
            began = time.perf_counter()
            response = await client.get(url, params=params)
            timings.append((time.perf_counter() - began) * 1000)
            response.raise_for_status()
    return timings


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def explain(url: str, name: str, params: dict[str, str]) -> None:
    """``EXPLAIN ANALYZE`` of the page query the server runs for ``params`` (built by
    the same ``users/search.py``), literal values inlined."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        body = await conn.fetchval(
            "SELECT s.body FROM pools p JOIN schemas s ON s.id = p.payload_schema_id "
            "WHERE p.id = $1",
            POOL,
        )
        pool = SimpleNamespace(id=POOL, schema=json.loads(body))
        checked = search.plan(pool, search.UserSearch(**params), "postgresql")  # type: ignore[arg-type]
        # What ``search.find`` runs first: a text search's page and total in one statement.
        build = search.one_pass_query if checked.text else search.page_query
        query = build(checked, 50, 0, "postgresql")
        dialect = asyncpg_dialect.dialect()
        sql = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        print(f"\n--- {name}: {params}")
        for row in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}"):
            print("   ", row[0])
    finally:
        await conn.close()


async def bench(args: argparse.Namespace) -> None:
    cli = str(reg.VENV_BIN / "widget-server")
    work = Path(tempfile.mkdtemp(prefix="users-at-scale-"))
    port = reg.free_port()
    env = {
        "PATH": str(reg.VENV_BIN) + ":/usr/bin:/bin",
        "WIDGET_DATABASE_URL": args.postgres_url,
        "WIDGET_SECRET_KEY": "bench-users-at-scale-" + "k" * 24,
        "WIDGET_PUBLIC_URL": f"http://{reg.HOST}:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    if not args.reuse:
        await reg.reset_postgres(args.postgres_url)
        subprocess.run([cli, "migrate"], env=env, cwd=work, check=True, capture_output=True)
        subprocess.run([cli, "seed-demo"], env=env, cwd=work, check=True, capture_output=True)
        print(f"seeding {args.users:,} users into {POOL} ...")
        seconds = await seed_users(args.postgres_url, args.users)
        print(f"seeded in {seconds:.0f} s ({args.users / seconds:,.0f} users/s)")
    if args.seed_only:
        return
    if args.plans_only:
        cursor = await deep_cursor(args.postgres_url, args.users)
        for name, params in queries(args.users, cursor).items():
            await explain(args.postgres_url, name, params)
        return
    issued = subprocess.run(
        [cli, "issue-api-key", "--tenant", "acme", "--name", "bench", "--role", "tenant_admin"],
        env=env, cwd=work, check=True, capture_output=True, text=True,
    )
    key = issued.stdout.strip().splitlines()[-1].split()[-1]
    server = reg.start([cli, "serve", "--host", reg.HOST, "--port", str(port)], env, work,
                       work / "server.log")
    try:
        await reg.wait_ready(port, server, work / "server.log", 60)
        cursor = await deep_cursor(args.postgres_url, args.users)
        print(f"\n{'query':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
        results = {}
        for name, params in queries(args.users, cursor).items():
            print(f"  {name}: {params}")
            results[name] = await measure(port, key, params, args.repeats)
        print(f"\n{'query':<30} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}   (target p95 <= 100)")
        for name, timings in results.items():
            p50, p95 = pct(timings, 0.5), pct(timings, 0.95)
            print(f"{name:<30} {p50:8.1f} {p95:8.1f} {max(timings):8.1f}")
    finally:
        reg.stop(server)
    if args.explain:
        for name, params in queries(args.users, cursor).items():
            await explain(args.postgres_url, name, params)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/bench_users"
    )
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--plans-only", action="store_true", help="EXPLAIN ANALYZE, no HTTP")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(bench(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
