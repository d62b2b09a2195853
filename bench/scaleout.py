"""Two server processes against one, on PostgreSQL, behind HAProxy (a benchmark: it
prints figures, it does not assert them).

    .venv/bin/python bench/scaleout.py [--registrations 600] [--concurrency 32]
        [--rounds 2] [--postgres-url postgresql+asyncpg://postgres@127.0.0.1/test]

Does splitting the server into processes cost throughput? One run measures, on the same
machine and in alternation (the machine's speed drifts by several per cent within
seconds, so each layout runs ``--rounds`` times, interleaved):

(a)  the argon2 bound (``registration.argon2_bound``: hashes/s on every core), before
     and after the rest;
(1)  one ``widget-server serve`` with one hash slot per core, behind HAProxy;
(2)  two ``serve`` processes with half the slots each (``WIDGET_HASH_SLOTS``), so the
     machine hashes on as many threads as in (1), behind HAProxy round robin: the GET
     of a form and its POST often go to different processes (as on two machines);
(3)  one ``serve --workers 2`` (two processes on one socket, half the slots each),
     behind HAProxy.

Each layout starts on a fresh PostgreSQL schema (migrate, seed-demo) with Redis for the
shared counters, warms up, then runs the registrations of ``registration.py`` (b)
(``bench/loadgen.c``, GET form + POST, success = the code step) through HAProxy; mail
goes to the bench's SMTP sink. Printed: registrations/s of each layout, each against the
bound, and (2) and (3) against (1) beside the 95 % target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import registration as reg  # bench/registration.py, beside this script

HOST = reg.HOST
PROXY_SOURCE = "127.0.0.2"


@dataclass
class Layout:
    name: str
    #: ``serve`` commands behind HAProxy, and worker processes each (``--workers``).
    processes: int
    workers: int = 1

    def hash_slots(self) -> int:
        return max(1, reg.NCPU // (self.processes * self.workers))


@dataclass
class Measured:
    layout: Layout
    rate: float
    ok: int
    failed: int
    seconds: float
    server_cpu: float


def haproxy_config(lb_port: int, ports: list[int]) -> str:
    servers = "\n".join(
        f"    server s{n} {HOST}:{port} check source {PROXY_SOURCE}"
        for n, port in enumerate(ports, 1)
    )
    return f"""
global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    option forwardfor
frontend widgets
    bind {HOST}:{lb_port}
    default_backend servers
backend servers
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 1s
{servers}
"""


def server_env(args: argparse.Namespace, lb_port: int, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    return env | {
        "WIDGET_DATABASE_URL": args.postgres_url,
        "WIDGET_REDIS_URL": args.redis_url,
        "WIDGET_SECRET_KEY": secrets.token_urlsafe(32),
        "WIDGET_PUBLIC_URL": f"http://{HOST}:{lb_port}",
        "WIDGET_SMTP_HOST": HOST,
        "WIDGET_SMTP_PORT": str(smtp_port),
        "WIDGET_TRUSTED_PROXIES": f"{PROXY_SOURCE}/32",
        "PYTHONUNBUFFERED": "1",
    }


async def measure(
    args: argparse.Namespace, layout: Layout, tmp: Path, haproxy: str, loadgen: Path | None
) -> Measured:
    """One layout on a fresh schema: start, warm up, measure, stop."""
    work = Path(tempfile.mkdtemp(prefix=f"{layout.name}-", dir=tmp))
    await reg.reset_postgres(args.postgres_url)
    lb_port, smtp_port = reg.free_port(), reg.free_port()
    env = server_env(args, lb_port, smtp_port)
    started: list[subprocess.Popen[bytes]] = []
    try:
        sink = [sys.executable, str(reg.BENCH_DIR / "smtp_sink.py"), str(work / "mail")]
        started.append(reg.start([*sink, str(smtp_port)], env, work, work / "sink.log"))
        cli = str(reg.VENV_BIN / "widget-server")
        for step in (["migrate"], ["seed-demo", "--origin", f"http://{HOST}:{lb_port}"]):
            subprocess.run([cli, *step], env=env, cwd=work, check=True, capture_output=True)
        ports = [reg.free_port() for _ in range(layout.processes)]
        serve_env = env | {"WIDGET_HASH_SLOTS": str(layout.hash_slots())}
        for n, port in enumerate(ports):
            cmd = [cli, "serve", "--host", HOST, "--port", str(port)]
            cmd += ["--workers", str(layout.workers)] if layout.workers > 1 else []
            started.append(reg.start(cmd, serve_env, work, work / f"server-{n}.log"))
        for n, port in enumerate(ports):
            await reg.wait_ready(port, started[1 + n], work / f"server-{n}.log", 60)
        (work / "haproxy.cfg").write_text(haproxy_config(lb_port, ports))
        lb_cmd = [haproxy, "-db", "-f", str(work / "haproxy.cfg")]
        started.append(reg.start(lb_cmd, env, work, work / "haproxy.log"))
        await reg.wait_ready(lb_port, started[-1], work / "haproxy.log", 20)
        servers = started[1 : 1 + layout.processes]
        await load(args, loadgen, lb_port, args.warmup, "w" + secrets.token_hex(3))
        cpu0 = sum(reg.tree_cpu(p.pid) for p in servers)
        result = await load(args, loadgen, lb_port, args.registrations, secrets.token_hex(4))
        cpu = sum(reg.tree_cpu(p.pid) for p in servers) - cpu0
        return Measured(layout, result.rate, result.ok, result.failed, result.seconds, cpu)
    finally:
        for process in reversed(started):
            reg.stop(process)
        shutil.rmtree(work, ignore_errors=True)


async def load(
    args: argparse.Namespace, loadgen: Path | None, port: int, total: int, run: str
) -> reg.LoadResult:
    if loadgen is not None:
        result, _ = await asyncio.to_thread(
            reg.run_loadgen,
            loadgen,
            port,
            total,
            args.concurrency,
            args.timeout,
            args.max_seconds,
            run,
        )
        return result
    worker = reg.registration_worker(run, "partner-1", plain_post=False)
    return await reg.run_load(port, total, args.concurrency, args.max_seconds, args.timeout, worker)


def report(runs: list[Measured], bounds: list[reg.Argon2Result]) -> None:
    bound = sum(b.rate for b in bounds) / len(bounds)
    rates: dict[str, list[float]] = {}
    for m in runs:
        rates.setdefault(m.layout.name, []).append(m.rate)
        print(
            f"    {m.layout.name}: {m.rate:.1f} registrations/s ({m.ok} ok, {m.failed} failed "
            f"in {m.seconds:.1f}s; {m.layout.processes * m.layout.workers} x "
            f"{m.layout.hash_slots()} hash slots; "
            f"server CPU {m.server_cpu / max(1, m.ok) * 1000:.1f} ms per registration), "
            f"{m.rate / bound:.1%} of the bound",
            flush=True,
        )
    mean = {name: sum(values) / len(values) for name, values in rates.items()}
    one = mean.pop("one process")
    print(
        f"==> bound {bound:.1f} hashes/s (mean of {len(bounds)}); one process {one:.1f}/s "
        f"({one / bound:.1%})"
    )
    for name, rate in mean.items():
        verdict = "meets" if rate >= 0.95 * one else "BELOW"
        print(
            f"==> {name}: {rate:.1f}/s ({rate / bound:.1%} of the bound), {rate / one:.1%} "
            f"of one process ({verdict} the 95% target)",
            flush=True,
        )


async def bench(args: argparse.Namespace) -> None:
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        raise SystemExit("haproxy not found: apt-get install -y haproxy")
    print(f"machine: {reg.NCPU} cores; PostgreSQL {args.postgres_url}; Redis {args.redis_url}")
    bounds = [reg.argon2_bound(args.argon2_hashes, args.max_seconds)]
    print(f"(a) argon2 bound: {bounds[0].rate:.1f} hashes/s", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="widget-scaleout-"))
    loadgen = reg.build_loadgen(tmp)
    layouts = [
        Layout("one process", 1),
        Layout("two processes", 2),
        Layout("serve --workers 2", 1, workers=2),
    ]
    runs: list[Measured] = []
    try:
        for _ in range(args.rounds):
            for layout in layouts:
                runs.append(await measure(args, layout, tmp, haproxy, loadgen))
                print(f"    done: {layout.name} {runs[-1].rate:.1f}/s", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bounds.append(reg.argon2_bound(args.argon2_hashes, args.max_seconds))
    print(f"(a') argon2 bound after: {bounds[1].rate:.1f} hashes/s", flush=True)
    report(runs, bounds)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--registrations", type=int, default=600)
    p.add_argument("--warmup", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=2, help="each layout this many times, in turn")
    p.add_argument("--argon2-hashes", type=int, default=300)
    p.add_argument("--postgres-url", default=reg.PG_DEFAULT, help="local; its schema is dropped")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--max-seconds", type=float, default=180.0)
    p.add_argument("--timeout", type=float, default=30.0)
    args = p.parse_args(argv)
    if min(args.registrations, args.warmup, args.concurrency, args.rounds) < 1:
        p.error("counts must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    started = time.monotonic()
    run = asyncio.run if reg.uvloop is None else reg.uvloop.run
    run(bench(parse_args(argv)))
    print(f"({time.monotonic() - started:.0f}s)")


if __name__ == "__main__":
    main()
