"""Login throughput benchmark: logins/s through the widget against the argon2-verify bound
(a benchmark, not a test: it prints figures, it does not assert them).

    .venv/bin/python bench/login.py [--logins 600] [--concurrency 32] [--users 64]
        [--server uvicorn|granian] [--database sqlite|postgres]

One run prints, side by side:

(a) the argon2-verify bound: verifies/s of a stored hash with the server's own parameters
    (Settings defaults, p=1) on as many threads as the server has hash slots, measured in
    this process; a login costs exactly one verify, so this is the ceiling;
(b) logins/s through the real HTTP endpoint of a server subprocess (GET form + POST
    identifier/password as htmx, success = ``data-state="done"``: a new session and a
    saved flow), its ratio to (a) against the 85% target, POST p50/p99, and the CPU of
    client, server and the rest of the machine (it is shared: other processes' load is
    printed, read the figures with it).

Users are written straight into the database before the server starts (argon2 hashes
made here, with the server's parameters), so no mail is involved. Each virtual client
logs its own users in, round robin; successes clear the throttle counters, so throttling
does not limit the run. Every loop is bounded in count and time; all traffic goes to
127.0.0.1. Helpers (HTTP client, CPU meters, process control) come from registration.py.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus

from registration import (
    CSRF_RE,
    FLOW_RE,
    FORM,
    HX,
    NCPU,
    TICKET_RE,
    VENV_BIN,
    Connection,
    CpuMeter,
    LoadResult,
    _descendants,
    _ms,
    _proc_cpu,
    _seed_demo,
    _server_cmd,
    _server_env,
    free_port,
    print_ratio,
    print_thread_cpu,
    run_load,
    start,
    stop,
    thread_cpu,
    wait_ready,
)

from widget_server import secrets_
from widget_server.clock import SystemClock
from widget_server.db import Database
from widget_server.models import Address, Credential, User
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.settings import Settings

try:
    import uvloop
except ImportError:  # not on Windows
    uvloop = None  # type: ignore[assignment]

POOL = "partner-1"
PASSWORD = "bench-login-passphrase-1"  # noqa: S105 (the bench's own test accounts)
DONE_STATE = b'data-state="done"'


# --- (a) the verify bound -----------------------------------------------------------------


@dataclass
class VerifyResult:
    hasher: str
    threads: int
    verifies: int
    seconds: float
    cpu: float
    other_cores: float

    @property
    def rate(self) -> float:
        return self.verifies / self.seconds


def server_hasher(cheap: bool = False) -> Argon2Hasher:
    if cheap:
        return Argon2Hasher(time_cost=1, memory_kib=8)
    defaults = Settings()
    return Argon2Hasher(defaults.argon2_time_cost, defaults.argon2_memory_kib)


def verify_bound(verifies: int, max_seconds: float) -> VerifyResult:
    hasher = server_hasher()
    threads = Settings().effective_hash_slots
    stored = hasher.hash(PASSWORD)
    deadline = time.monotonic() + max_seconds

    def one(_: int) -> int:
        if time.monotonic() >= deadline:
            return 0
        if not hasher.verify(stored, PASSWORD):
            raise SystemExit("verify failed")
        return 1

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, range(4 * threads)))  # warm-up: threads, arenas, caches
        with CpuMeter() as meter:
            done = sum(pool.map(one, range(verifies)))
    if time.monotonic() >= deadline:
        raise SystemExit("verify phase hit --max-seconds; lower --verifies")
    return VerifyResult(repr(hasher), threads, done, meter.wall, meter.client, meter.other_cores())


# --- users --------------------------------------------------------------------------------


async def seed_users(database_url: str, run_id: str, count: int, cheap: bool) -> list[str]:
    """``count`` active users of the pool with verified emails and PASSWORD; their emails."""
    hasher = server_hasher(cheap)
    with ThreadPoolExecutor(max_workers=NCPU) as pool:
        hashes = list(pool.map(lambda _: hasher.hash(PASSWORD), range(count)))
    db = Database(database_url)
    now = SystemClock().now()
    emails = [f"login-{run_id}-{i}@example.com" for i in range(count)]
    try:
        async with db.write() as session:
            for email, secret_hash in zip(emails, hashes, strict=True):
                user_id = secrets_.new_id()
                session.add(
                    User(
                        id=user_id,
                        pool_id=POOL,
                        status="active",
                        payload={"email": email},
                        metadata_={},
                        created_at=now,
                        updated_at=now,
                        activated_at=now,
                    )
                )
                await session.flush()
                session.add_all(
                    [
                        Address(
                            id=secrets_.new_id(),
                            user_id=user_id,
                            pool_id=POOL,
                            kind="email",
                            value=email,
                            status="verified",
                            verified_at=now,
                            created_at=now,
                        ),
                        Credential(
                            id=secrets_.new_id(),
                            user_id=user_id,
                            kind="password",
                            secret_hash=secret_hash,
                            created_at=now,
                            updated_at=now,
                        ),
                    ]
                )
    finally:
        await db.dispose()
    return emails


# --- (b) logins ---------------------------------------------------------------------------


def login_worker(emails: Sequence[str]) -> Callable[[Connection, int, LoadResult], Awaitable[None]]:
    path = f"/embed/{POOL}/login".encode()
    password = quote_plus(PASSWORD).encode()

    async def one(conn: Connection, i: int, result: LoadResult) -> None:
        t0 = time.perf_counter()
        status, _, body = await conn.request(b"GET", path)
        t1 = time.perf_counter()
        result.other_latencies.append(t1 - t0)
        flow, csrf, ticket = FLOW_RE.search(body), CSRF_RE.search(body), TICKET_RE.search(body)
        if status != 200 or flow is None or csrf is None or ticket is None:
            result.fail(f"GET form: {status}")
            return
        form = (
            b"flow_id=" + flow.group(1) + b"&csrf_token=" + csrf.group(1)
            + b"&flow_ticket=" + ticket.group(1)
            + b"&identifier=" + quote_plus(emails[i % len(emails)]).encode()
            + b"&password=" + password
        )  # fmt: skip
        t1 = time.perf_counter()
        status, _, body = await conn.request(b"POST", path, FORM + HX, form)
        result.latencies.append(time.perf_counter() - t1)
        if status == 200 and DONE_STATE in body:
            result.ok += 1
        elif status == 503:
            result.fail("POST 503 (hash pool overloaded)")
        elif status == 429:
            result.fail("POST 429 (throttled)")
        else:
            result.fail(f"POST {status}")

    return one


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--logins", type=int, default=600, help="measured logins (b)")
    p.add_argument("--concurrency", type=int, default=32, help="parallel keep-alive clients")
    p.add_argument("--users", type=int, default=64, help="distinct accounts logged in to")
    servers = ["uvicorn"] + (["granian"] if shutil.which("granian", path=str(VENV_BIN)) else [])
    p.add_argument("--server", choices=servers, default="uvicorn")
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1/test",
        help="local only; its schema is dropped",
    )
    p.add_argument("--verifies", type=int, default=400, help="verifies timed for (a)")
    p.add_argument("--warmup", type=int, default=64, help="logins before measuring")
    p.add_argument("--max-seconds", type=float, default=180.0, help="time bound of each phase")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout")
    p.add_argument(
        "--cheap-hashes",
        action="store_true",
        help="diagnostic: users and server hash with t=1, m=8 KiB, so the server's CPU per "
        "login is the overhead beyond argon2 (the ratio to (a) is then meaningless)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db)")
    p.add_argument(
        "--thread-cpu", action="store_true", help="print the server's CPU per thread over (b)"
    )
    args = p.parse_args(argv)
    if min(args.logins, args.concurrency, args.users, args.verifies, args.warmup) < 1:
        p.error("counts must be >= 1")
    return args


async def bench(args: argparse.Namespace) -> None:
    print(
        f"machine: {NCPU} cores, python {sys.version.split()[0]}; server={args.server}, "
        f"database={args.database}, concurrency={args.concurrency}, users={args.users}",
        flush=True,
    )
    a = _verify_phase(args, "(a)")
    tmp = Path(tempfile.mkdtemp(prefix="widget-bench-login-"))
    server = None
    try:
        port = free_port()
        env = await _server_env(args, port, tmp)
        _seed_demo(env, tmp, port)
        run_id = secrets.token_hex(4)
        emails = await seed_users(env["WIDGET_DATABASE_URL"], run_id, args.users, args.cheap_hashes)
        server = start(_server_cmd(args, port), env, tmp, tmp / "server.log")
        await wait_ready(port, server, tmp / "server.log", 60)
        one = login_worker(emails)
        warm = await run_load(
            port, args.warmup, args.concurrency, args.max_seconds, args.timeout, one
        )
        if warm.ok == 0:
            raise SystemExit(
                f"warm-up: no login succeeded: {warm.failures}; "
                f"log: {(tmp / 'server.log').read_text()[-3000:]}"
            )
        app_pid = max(_descendants(server.pid), key=_proc_cpu)  # the Python app process
        threads0 = thread_cpu(app_pid)
        with CpuMeter(server_pid=server.pid) as cpu:
            b = await run_load(
                port, args.logins, args.concurrency, args.max_seconds, args.timeout, one
            )
        threads1 = thread_cpu(app_pid)
        _report(a, b, cpu)
        if args.thread_cpu:
            print_thread_cpu(app_pid, threads0, threads1, cpu.wall, b.ok, "login")
        # (a) again, right after (b): the machine's speed drifts by several per cent over
        # a run, so (b) is compared with the bound on both sides of it.
        print_ratio("logins", b.rate, a, _verify_phase(args, "(a') after (b)"))
        if args.keep:
            print(f"kept: {tmp}")
    finally:
        stop(server)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _verify_phase(args: argparse.Namespace, label: str) -> VerifyResult:
    a = verify_bound(args.verifies, args.max_seconds)
    print(
        f"{label} argon2-verify bound: {a.rate:.1f} verifies/s  [{a.hasher}, {a.threads} "
        f"threads, {a.verifies} verifies in {a.seconds:.2f}s, "
        f"{a.seconds / a.verifies * a.threads * 1000:.1f} ms per verify per thread; "
        f"other processes ~{a.other_cores:.2f} cores]",
        flush=True,
    )
    return a


def _report(a: VerifyResult, b: LoadResult, cpu: CpuMeter) -> None:
    print(
        f"(b) logins: {b.rate:.1f}/s  ({b.ok} ok, {b.failed} failed in {b.seconds:.2f}s"
        f"{', TIME BOUND HIT' if b.timed_out else ''})"
    )
    print(f"    POST latency {_ms(b.latencies)}; GET form latency {_ms(b.other_latencies)}")
    if b.failures:
        print(f"    failures: {b.failures}")
    print(f"    {cpu.line()}")
    # CPU per unit is steadier than wall-clock rates on a shared machine: compare these too.
    verify_cpu = a.cpu / a.verifies * 1000
    login_cpu = cpu.server / max(1, b.ok) * 1000
    print(
        f"    server CPU per login: {login_cpu:.1f} ms (argon2 verify alone: "
        f"{verify_cpu:.1f} ms CPU, so {verify_cpu / login_cpu:.0%} of a login's CPU is the "
        f"verify); client {cpu.client / max(1, b.ok) * 1000:.2f} ms",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    run = asyncio.run if uvloop is None else uvloop.run
    run(bench(args))


if __name__ == "__main__":
    main()
