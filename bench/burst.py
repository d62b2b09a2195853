"""Release-day burst benchmark (a benchmark, not a test: it prints figures and verdicts, it
asserts nothing).

    .venv/bin/python bench/burst.py [--people 3000] [--database sqlite|postgres]
        [--workers 1] [--max-wait 10]

One run, one ``widget-server serve`` (SQLite by default) with the demo pools:

(a)  the argon2 bound, hashes/s at the server's parameters on as many threads as it has
     hash slots, measured in this process before the server starts;
(b)  the burst: ``--people`` clients open ``/embed/partner-1/register`` at the same moment
     (GET) and send it (htmx POST, a unique email and password each). A client refused
     with 503 waits ``Retry-After`` plus a random 0-10 % of it plus up to 1 s (what
     static/widget.js does) and sends the same form again; it counts as registered when
     the answer is the code step. The people are ``bench/burstgen.c`` (built with the
     machine's gcc; ``--python-client``: asyncio clients in this process, several times
     its CPU on the server's cores). Meanwhile a new visitor every ``--probe-interval``
     seconds opens ``/healthz`` and another the form (each on a new connection);
(a') the bound again, after the burst's mail has been delivered.

It prints the burst's duration against ``people / bound`` (the mean of (a) and (a');
target <= 1.2x), refusals per person (target <= ~2), how long a refusal took (p99 target
<= 50 ms), the probes' latency (p99 target <= 250 ms), the server's resident memory
before and at its peak, CPU by process and the load of the rest of the machine, and
what was stored: rows per person (exactly one user and address each, none missing) and
emails per person in the SMTP sink (exactly one each).

Every loop is bounded: attempts per person (``--max-attempts``), the burst in time
(``--max-seconds``), each request (``--timeout``). Traffic goes only to 127.0.0.1. Only
the processes the bench started are stopped, by their process group.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

try:
    import uvloop
except ImportError:  # not on Windows
    uvloop = None  # type: ignore[assignment]

import smtp_sink  # bench/smtp_sink.py, beside this script
from registration import (  # bench/registration.py: the client and process helpers
    CODE_STATE,
    CSRF_RE,
    FLOW_RE,
    FORM,
    FORM_STATE,
    HOST,
    HX,
    NCPU,
    PG_DEFAULT,
    TICKET_RE,
    VENV_BIN,
    Argon2Result,
    Connection,
    CpuMeter,
    HttpError,
    _descendants,
    _password,
    _pct,
    _seed_demo,
    _server_env,
    argon2_bound,
    free_port,
    start,
    stop,
    wait_ready,
)

BENCH_DIR = Path(__file__).resolve().parent
PATH = b"/embed/partner-1/register"


# --- one person ---------------------------------------------------------------------------


@dataclass
class Burst:
    """What the burst's clients saw, added up."""

    registered: int = 0
    gave_up: Counter[str] = field(default_factory=Counter)
    refusals: int = 0
    refusal_latency: list[float] = field(default_factory=list)
    refusals_per_person: Counter[int] = field(default_factory=Counter)
    retry_after: list[int] = field(default_factory=list)
    form_latency: list[float] = field(default_factory=list)  # the clients' own GETs
    admitted_latency: list[float] = field(default_factory=list)  # POSTs that registered
    last_success: float = 0.0
    emails: list[str] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    started: float = 0.0
    healthz: list[float] = field(default_factory=list)  # new visitors during the burst
    form_probe: list[float] = field(default_factory=list)
    client_cpu: float = 0.0  # burstgen's; 0 when the people ran in this process


async def person(
    port: int, i: int, run_id: str, burst: Burst, args: argparse.Namespace, deadline: float
) -> None:
    """One person: open the form, send it, wait in line as the widget does, until the code
    step (or the bounds)."""
    conn = Connection(port, args.timeout)
    refused = 0
    try:
        t0 = time.perf_counter()
        status, _, body = await conn.request(b"GET", PATH)
        burst.form_latency.append(time.perf_counter() - t0)
        flow, csrf = FLOW_RE.search(body), CSRF_RE.search(body)
        if status != 200 or flow is None or csrf is None:
            burst.gave_up[f"GET form: {status}"] += 1
            return
        email = f"burst-{run_id}-{i}@example.com"
        ticket = TICKET_RE.search(body)
        form = b"flow_id=%s&csrf_token=%s%s&email=%s&password=%s" % (
            flow.group(1),
            csrf.group(1),
            b"&flow_ticket=" + ticket.group(1) if ticket else b"",
            quote_plus(email).encode(),
            quote_plus(_password()).encode(),
        )
        for _ in range(args.max_attempts):
            t1 = time.perf_counter()
            status, headers, body = await conn.request(b"POST", PATH, FORM + HX, form)
            took = time.perf_counter() - t1
            if status == 200 and CODE_STATE in body:
                burst.registered += 1
                burst.admitted_latency.append(took)
                burst.last_success = time.perf_counter()
                burst.emails.append(email)
                return
            if status != 503:
                kind = "form shown again" if FORM_STATE in body else "other"
                burst.gave_up[f"POST {status} ({kind})"] += 1
                return
            refused += 1
            burst.refusals += 1
            burst.refusal_latency.append(took)
            wait = int(headers.get(b"retry-after", b"1"))
            burst.retry_after.append(wait)
            # What static/widget.js waits: Retry-After, plus 0-10 % of it, plus up to 1 s.
            pause = wait * (1 + random.random() * 0.1) + random.random()  # noqa: S311
            if time.monotonic() + pause > deadline:
                burst.gave_up["time bound (--max-seconds)"] += 1
                return
            await asyncio.sleep(pause)
        burst.gave_up["attempts bound (--max-attempts)"] += 1
    except HttpError as exc:
        burst.gave_up[str(exc)[:60]] += 1
    finally:
        burst.refusals_per_person[refused] += 1
        await conn.close()


# --- new visitors during the burst ----------------------------------------------------------


async def probe(port: int, path: bytes, every: float, stop_at: asyncio.Event) -> list[float]:
    """A new visitor opening ``path`` every ``every`` seconds (a new connection each, not
    waiting for the previous one) until ``stop_at``; their latencies, connect included."""
    latencies: list[float] = []

    async def visit() -> None:
        conn = Connection(port, 30.0)
        t0 = time.perf_counter()
        try:
            status, _, _ = await conn.request(b"GET", path)
            if status == 200:
                latencies.append(time.perf_counter() - t0)
        except HttpError:
            latencies.append(float("inf"))
        finally:
            await conn.close()

    visits = []
    while not stop_at.is_set():
        visits.append(asyncio.create_task(visit()))
        await wait_for(stop_at, every)
    await asyncio.gather(*visits)
    return latencies


# --- server memory ------------------------------------------------------------------------


def rss_kib(root: int) -> int:
    """Resident memory of the server and its children (workers), in KiB."""
    total = 0
    for pid in _descendants(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total


async def sample_rss(root: int, stop_at: asyncio.Event, peak: list[int]) -> None:
    while not stop_at.is_set():
        peak[0] = max(peak[0], rss_kib(root))
        await wait_for(stop_at, 0.1)


async def wait_for(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set, or ``seconds`` at most."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


# --- what was stored ----------------------------------------------------------------------


async def stored(args: argparse.Namespace, tmp: Path, run_id: str) -> tuple[int, int, int]:
    """(users, distinct addresses, code rows) of this run's people in the database."""
    query = (
        "select count(*), count(distinct a.value), "
        "(select count(*) from codes c join flows f on f.id = c.flow_id "
        " where f.address like $1) "
        "from users u join addresses a on a.user_id = u.id where a.value like $1"
    )
    pattern = f"burst-{run_id}-%"
    if args.database == "sqlite":
        with sqlite3.connect(tmp / "widget.db") as db:
            row = db.execute(query.replace("$1", "?"), (pattern, pattern)).fetchone()
        return int(row[0]), int(row[1]), int(row[2])
    import asyncpg  # type: ignore[import-untyped]  # PostgreSQL runs only

    url = args.postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        row = await conn.fetchrow(query, pattern)
    finally:
        await conn.close()
    return int(row[0]), int(row[1]), int(row[2])


RECIPIENT = re.compile(rb"^To: *<?(burst-[0-9a-f]+-\d+@example\.com)>?\s*$", re.M | re.I)


def mailed(maildir: Path) -> Counter[str]:
    """Messages per recipient in the sink's mbox."""
    try:
        raw = (maildir / smtp_sink.MBOX).read_bytes()
    except FileNotFoundError:
        return Counter()
    return Counter(m.decode() for m in RECIPIENT.findall(raw))


# --- the run ------------------------------------------------------------------------------


def ms(values: Sequence[float], q: float) -> str:
    value = _pct(values, q)
    return "n/a" if value != value else f"{value * 1000:.0f} ms"  # NaN: no samples


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


async def bench(args: argparse.Namespace) -> None:
    print(
        f"machine: {NCPU} cores, load average {os.getloadavg()[0]:.2f}; python "
        f"{sys.version.split()[0]}; server={args.server}, database={args.database}, "
        f"workers={args.workers}, "
        f"people={args.people}",
        flush=True,
    )
    a = bound("(a)", args)
    tmp = Path(tempfile.mkdtemp(prefix="widget-burst-"))
    sink = server = None
    try:
        port = free_port()
        env = await _server_env(args, port, tmp)
        env["WIDGET_HASH_MAX_WAIT_SECONDS"] = str(args.max_wait)
        maildir = tmp / "mailbox"
        sink_cmd = [sys.executable, str(BENCH_DIR / "smtp_sink.py"), str(maildir)]
        sink = start([*sink_cmd, env["WIDGET_SMTP_PORT"]], env, tmp, tmp / "sink.log")
        _seed_demo(env, tmp, port)
        if args.server == "granian":
            # What serve --workers does for each of its processes (serving.py).
            env["WIDGET_HASH_SLOTS"] = str(max(1, NCPU // args.workers))
        server = start(server_cmd(args, port), env, tmp, tmp / "server.log")
        await wait_ready(port, server, tmp / "server.log", 60)
        await warm_up(port, args)
        await drain(maildir, args.warmup, 30)
        # Bounded in time: three times what the bound allows, unless --max-seconds says.
        limit = args.max_seconds or max(120.0, 3 * args.people / a.rate)
        burstgen = None if args.python_client else build_burstgen(tmp)
        b, cpu, rss = await run_burst(args, port, server.pid, sink.pid, limit, burstgen)
        drained = await drain(maildir, args.warmup + b.registered, 120)
        a2 = bound("(a')", args)
        report(args, a, a2, b, cpu, rss, drained)
        await report_stored(args, tmp, maildir, b)
        if args.keep:
            print(f"kept: {tmp}")
    finally:
        stop(server)
        stop(sink)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def server_cmd(args: argparse.Namespace, port: int) -> list[str]:
    if args.server == "granian":
        return [
            str(VENV_BIN / "granian"),
            *("--interface", "asgi", "--host", HOST, "--port", str(port)),
            *("--workers", str(args.workers), "--backlog", "4096", "--no-access-log"),
            *("--factory", "--working-dir", str(BENCH_DIR), "granian_app:app"),
        ]
    serve = [str(VENV_BIN / "widget-server"), "serve", "--host", HOST, "--port", str(port)]
    return [*serve, "--workers", str(args.workers)]


def bound(label: str, args: argparse.Namespace) -> Argon2Result:
    a = argon2_bound(args.argon2_hashes, 120)
    print(
        f"{label} argon2 bound: {a.rate:.1f} hashes/s [{a.hasher}, {a.threads} threads, "
        f"{a.seconds / a.hashes * a.threads * 1000:.1f} ms per hash per thread; other "
        f"processes ~{a.other_cores:.2f} cores]",
        flush=True,
    )
    return a


async def warm_up(port: int, args: argparse.Namespace) -> None:
    """A few registrations first: caches, connections and the outbox are then warm."""
    warm = Burst()
    deadline = time.monotonic() + 60
    people = range(args.warmup)
    await asyncio.gather(*(person(port, i, warm.run_id, warm, args, deadline) for i in people))
    if warm.registered != args.warmup:
        raise SystemExit(f"warm-up: {warm.registered}/{args.warmup} registered: {warm.gave_up}")


async def drain(maildir: Path, expected: int, seconds: float) -> float:
    """Wait until ``expected`` messages are in the sink; the seconds it took."""
    t0 = time.monotonic()
    while smtp_sink.count(maildir) < expected and time.monotonic() - t0 < seconds:
        await asyncio.sleep(0.05)
    return time.monotonic() - t0


@dataclass
class Rss:
    before: int
    peak: int


async def run_burst(
    args: argparse.Namespace,
    port: int,
    server_pid: int,
    sink_pid: int,
    limit: float,
    burstgen: Path | None,
) -> tuple[Burst, CpuMeter, Rss]:
    burst = Burst()
    done = asyncio.Event()
    before = rss_kib(server_pid)
    peak = [before]
    sampler = asyncio.create_task(sample_rss(server_pid, done, peak))
    every = args.probe_interval
    probes = [
        asyncio.create_task(probe(port, b"/healthz", every, done)),
        asyncio.create_task(probe(port, PATH, every, done)),
    ]
    deadline = time.monotonic() + limit
    with CpuMeter(server_pid=server_pid, sink_pid=sink_pid) as cpu:
        if burstgen is not None:
            burst.client_cpu = await asyncio.to_thread(
                run_burstgen, burstgen, args, port, limit, burst
            )
            cpu.client += burst.client_cpu
        else:
            burst.started = time.perf_counter()
            people = range(args.people)
            await asyncio.gather(*(person(port, i, burst.run_id, burst, args, deadline)
                                   for i in people))
        done.set()
        burst.healthz, burst.form_probe = await asyncio.gather(*probes)
    await sampler
    return burst, cpu, Rss(before, peak[0])


def build_burstgen(tmp: Path) -> Path | None:
    """``bench/burstgen.c`` compiled into ``tmp``; None (with a note) if that fails."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        print("    note: no C compiler; the people are the asyncio client")
        return None
    binary = tmp / "burstgen"
    built = subprocess.run(
        [gcc, "-O2", "-o", str(binary), str(BENCH_DIR / "burstgen.c")],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        print(f"    note: burstgen.c did not build ({built.stderr.strip()[:200]}); asyncio client")
        return None
    return binary


def run_burstgen(
    binary: Path, args: argparse.Namespace, port: int, limit: float, burst: Burst
) -> float:
    """The people, by ``burstgen`` (output read into ``burst``); the CPU it used."""
    cmd = [str(binary), str(port), "partner-1", str(args.people), str(args.timeout)]
    cmd += [str(limit), str(args.max_attempts), burst.run_id]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"burstgen failed with exit code {proc.returncode}")
    for line in output.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "G":
            burst.form_latency.append(float(rest))
        elif kind == "P":
            burst.admitted_latency.append(float(rest))
        elif kind == "X":
            latency, retry_after = rest.split()
            burst.refusals += 1
            burst.refusal_latency.append(float(latency))
            burst.retry_after.append(int(retry_after))
        elif kind == "S":
            at, index = rest.split()
            burst.last_success = max(burst.last_success, float(at))
            burst.emails.append(f"burst-{burst.run_id}-{index}@example.com")
        elif kind == "F":
            burst.gave_up[rest] += 1
        elif kind == "N":
            burst.refusals_per_person[int(rest)] += 1
        elif kind == "R":
            burst.registered = int(rest.split()[0])
    return usage.ru_utime + usage.ru_stime


def report(
    args: argparse.Namespace,
    a: Argon2Result,
    a2: Argon2Result,
    b: Burst,
    cpu: CpuMeter,
    rss: Rss,
    drained: float,
) -> None:
    rate = (a.rate + a2.rate) / 2
    ideal = args.people / rate
    took = b.last_success - b.started
    ratio = took / ideal
    refusals = b.refusals / args.people
    print(f"(b) burst of {args.people} sign-ups: {b.registered} registered in {took:.1f} s "
          f"({b.registered / took:.1f}/s)")
    if b.gave_up:
        print(f"    NOT registered: {dict(b.gave_up)}")
    print(f"    {cpu.line()}")
    people = "burstgen" if b.client_cpu else "asyncio, with the probes"
    print(f"    server CPU per registration {cpu.server / max(1, b.registered) * 1000:.1f} ms; "
          f"the people {(b.client_cpu or cpu.client) / max(1, b.registered) * 1000:.2f} ms "
          f"({people}); bench process {(cpu.client - b.client_cpu):.1f} s (probes, sampler)")
    print(f"==> duration {took:.1f} s against {args.people} / {rate:.1f} hashes/s = "
          f"{ideal:.1f} s: {ratio:.2f}x ({verdict(ratio <= 1.2)} the 1.2x target)")
    spread = sorted(b.refusals_per_person.items())
    print(f"==> refusals per person {refusals:.2f} on average ({verdict(refusals <= 2)} the "
          f"~2 target); {b.refusals} in all; people by refusals: {dict(spread)}")
    if b.retry_after:
        print(f"    Retry-After given: min {min(b.retry_after)} s, median "
              f"{_pct(b.retry_after, 0.5)} s, max {max(b.retry_after)} s")
    p99 = _pct(b.refusal_latency, 0.99)
    print(f"==> refusal latency p50 {ms(b.refusal_latency, 0.5)}, p99 "
          f"{ms(b.refusal_latency, 0.99)} ({verdict(not p99 > 0.05)} the 50 ms target)")
    for label, values in (("/healthz", b.healthz), ("form page", b.form_probe)):
        p99 = _pct(values, 0.99)
        print(f"==> {label} for a new visitor during the burst: p50 {ms(values, 0.5)}, p99 "
              f"{ms(values, 0.99)}, max {ms(values, 1.0)} over {len(values)} visits "
              f"({verdict(not p99 > 0.25)} the 250 ms target)")
    print(f"    the burst's own form GETs (all sent at once): p50 {ms(b.form_latency, 0.5)}, "
          f"p99 {ms(b.form_latency, 0.99)}; admitted POSTs (queue wait included): p50 "
          f"{ms(b.admitted_latency, 0.5)}, p99 {ms(b.admitted_latency, 0.99)}")
    print(f"==> server resident memory: {rss.before / 1024:.0f} MiB before the burst, peak "
          f"{rss.peak / 1024:.0f} MiB (+{(rss.peak - rss.before) / args.people:.1f} KiB per "
          f"person)")
    print(f"    mail drained {drained:.1f} s after the burst")
    print(f"(a) / (a') {a.rate:.1f} / {a2.rate:.1f} hashes/s; load average now "
          f"{os.getloadavg()[0]:.2f}", flush=True)


async def report_stored(args: argparse.Namespace, tmp: Path, maildir: Path, b: Burst) -> None:
    users, addresses, codes = await stored(args, tmp, b.run_id)
    mail = mailed(maildir)
    ours = {e: n for e, n in mail.items() if e.startswith(f"burst-{b.run_id}-")}
    twice = sum(1 for n in ours.values() if n > 1)
    missing = sum(1 for e in b.emails if e not in ours)
    exact = users == addresses == codes == len(ours) == b.registered == args.people
    print(f"==> stored: {users} users, {addresses} distinct addresses, {codes} codes for "
          f"{b.registered} registered of {args.people}; emails: {len(ours)} people mailed, "
          f"{sum(ours.values())} messages, {twice} mailed more than once, {missing} "
          f"registered but not mailed ({'exact' if exact and not twice else 'NOT EXACT'})",
          flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--people", type=int, default=3000, help="simultaneous sign-ups")
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--postgres-url", default=PG_DEFAULT, help="local only; its schema is dropped")
    p.add_argument("--workers", type=int, default=1, help="widget-server serve --workers")
    servers = ["uvicorn"] + (["granian"] if shutil.which("granian", path=str(VENV_BIN)) else [])
    p.add_argument("--server", choices=servers, default="uvicorn",
                   help="widget-server serve (uvicorn), or granian (the bench extra)")
    p.add_argument("--max-wait", type=float, default=10.0, help="WIDGET_HASH_MAX_WAIT_SECONDS")
    p.add_argument("--probe-interval", type=float, default=0.1,
                   help="seconds between new visitors of /healthz (and of the form)")
    p.add_argument("--argon2-hashes", type=int, default=300, help="hashes per bound measurement")
    p.add_argument("--warmup", type=int, default=32, help="registrations before the burst")
    p.add_argument("--max-attempts", type=int, default=30, help="POSTs per person at most")
    p.add_argument("--max-seconds", type=float, default=0.0,
                   help="time bound of the burst (default: 3 x people / bound, at least 120 s)")
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db, mail)")
    p.add_argument("--python-client", action="store_true",
                   help="the people as asyncio clients in this process instead of "
                   "bench/burstgen.c (several times its CPU, on the server's cores)")
    args = p.parse_args(argv)
    if min(args.people, args.workers, args.argon2_hashes, args.warmup, args.max_attempts) < 1:
        p.error("counts must be >= 1")
    # What bench/registration.py's helpers read.
    args.cheap_hashes = False
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    local = {"127.0.0.1", "localhost", "::1"}
    if urlsplit(args.postgres_url.replace("+asyncpg", "")).hostname not in local:
        raise SystemExit("--postgres-url must be local")
    (uvloop.run if uvloop is not None else asyncio.run)(bench(args))


if __name__ == "__main__":
    main()
