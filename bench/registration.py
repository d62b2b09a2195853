"""Registration throughput benchmark (a benchmark, not a test: it prints figures, it does
not assert them).

    .venv/bin/python bench/registration.py [--registrations 600] [--concurrency 32]
        [--server uvicorn|granian] [--database sqlite|postgres]

One run prints, side by side:

(a) the argon2-only bound: hashes/s with the server's own parameters (Settings defaults,
    p=1) on as many threads as the server has hash slots, measured in this process;
(b) registrations/s through the real HTTP endpoint of a server subprocess (GET form +
    POST email/password, success = the code step ``data-state="code"``), its ratio to (a)
    and POST p50/p99; mail is delivered to a real SMTP sink (another subprocess);
(c) requests/s of GET /embed/partner-1/register, GET /embed/business-1/register (each
    creates a flow: a DB write) and GET /healthz on the same server, and their ratio.

The load generator speaks HTTP/1.1 keep-alive, one connection per virtual client: for
(b) ``bench/loadgen.c`` (built with the machine's gcc; ``--python-client`` or no gcc: the
asyncio client below, which costs ~10x its CPU), for (c) the asyncio client. Its CPU is
measured and printed next to the server's. Every loop is bounded in count and in time;
all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import quote_plus, urlsplit

try:
    import uvloop
except ImportError:  # not on Windows
    uvloop = None  # type: ignore[assignment]

import smtp_sink  # bench/smtp_sink.py, beside this script

from widget_server.passwords.hashing import Argon2Hasher
from widget_server.settings import Settings

BENCH_DIR = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1/test"

FLOW_RE = re.compile(rb'name="flow_id" value="([^"]+)"')
CSRF_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')
TICKET_RE = re.compile(rb'name="flow_ticket" value="([^"]+)"')
CODE_STATE = b'data-state="code"'
FORM_STATE = b'data-state="form"'


# --- CPU accounting ------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """utime+stime of one process (all its threads), in seconds; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        ppid = int(raw[raw.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and its live descendants (granian runs workers)."""
    return sum(_proc_cpu(pid) for pid in _descendants(root))


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds per thread (tid) of one process."""
    out: dict[int, float] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by tid, from ``py-spy dump`` when it is installed (else empty)."""
    spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if not spy:
        return {}
    try:
        dump = subprocess.run(
            [spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names: dict[int, str] = {}
    for line in dump.splitlines():
        m = re.match(r"Thread (0x[0-9a-fA-F]+|\d+) \(\w+\): \"(.*)\"", line)
        if m:
            names[int(m.group(1), 0)] = m.group(2)
    return names


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def system_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return total - idle, total


@dataclass
class CpuMeter:
    """CPU used by the bench itself, the server tree and the SMTP sink over one phase."""

    server_pid: int | None = None
    sink_pid: int | None = None
    wall: float = 0.0
    client: float = 0.0
    server: float = 0.0
    sink: float = 0.0
    machine_busy: float = 0.0  # fraction of all cores
    _start: tuple[float, ...] = field(default=(), repr=False)

    def __enter__(self) -> CpuMeter:
        busy, total = system_busy()
        self._start = (
            time.perf_counter(),
            self_cpu(),
            tree_cpu(self.server_pid) if self.server_pid else 0.0,
            _proc_cpu(self.sink_pid) if self.sink_pid else 0.0,
            busy,
            total,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        t0, c0, s0, k0, b0, tot0 = self._start
        busy, total = system_busy()
        self.wall = time.perf_counter() - t0
        self.client = self_cpu() - c0
        self.server = (tree_cpu(self.server_pid) if self.server_pid else 0.0) - s0
        self.sink = (_proc_cpu(self.sink_pid) if self.sink_pid else 0.0) - k0
        self.machine_busy = (busy - b0) / max(1, total - tot0)

    def cores(self, cpu: float) -> float:
        return cpu / self.wall if self.wall else 0.0

    def line(self) -> str:
        return (
            f"CPU over {self.wall:.1f}s wall: client {self.client:.1f}s "
            f"({self.cores(self.client):.2f} cores), server {self.server:.1f}s "
            f"({self.cores(self.server):.2f} cores), smtp sink {self.sink:.1f}s "
            f"({self.cores(self.sink):.2f} cores); machine busy {self.machine_busy:.0%} "
            f"of {NCPU} cores, other processes ~{self.other_cores():.2f} cores"
        )

    def other_cores(self) -> float:
        """Cores used by processes not ours (noise on a shared machine)."""
        ours = self.cores(self.client + self.server + self.sink)
        return max(0.0, self.machine_busy * NCPU - ours)


def combined(meters: Sequence[CpuMeter]) -> CpuMeter:
    """The meters of several windows as one (sums; machine busy weighted by wall time)."""
    total = CpuMeter(server_pid=meters[0].server_pid, sink_pid=meters[0].sink_pid)
    for m in meters:
        total.wall += m.wall
        total.client += m.client
        total.server += m.server
        total.sink += m.sink
        total.machine_busy += m.machine_busy * m.wall
    total.machine_busy /= max(total.wall, 1e-9)
    return total


def merged(results: Sequence[LoadResult]) -> LoadResult:
    total = LoadResult()
    for r in results:
        total.ok += r.ok
        total.failed += r.failed
        total.seconds += r.seconds
        total.latencies += r.latencies
        total.other_latencies += r.other_latencies
        for why, n in r.failures.items():
            total.failures[why] = total.failures.get(why, 0) + n
        total.timed_out |= r.timed_out
    return total


# --- (a) argon2 bound ----------------------------------------------------------------------


@dataclass
class Argon2Result:
    hasher: str
    threads: int
    hashes: int
    seconds: float
    cpu: float
    other_cores: float

    @property
    def rate(self) -> float:
        return self.hashes / self.seconds


def argon2_bound(hashes: int, max_seconds: float) -> Argon2Result:
    defaults = Settings()
    hasher = Argon2Hasher(defaults.argon2_time_cost, defaults.argon2_memory_kib)
    threads = defaults.effective_hash_slots
    passwords = [_password() for _ in range(hashes)]
    deadline = time.monotonic() + max_seconds

    def one(password: str) -> None:
        if time.monotonic() < deadline:
            hasher.hash(password)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(one, passwords[: 4 * threads]))  # warm-up: threads, arenas, caches
        with CpuMeter() as meter:
            done = sum(1 for _ in pool.map(lambda p: one(p) or 1, passwords))
    seconds, cpu = meter.wall, meter.client
    if time.monotonic() >= deadline:
        # Hashes skipped after the deadline did no work; rate from the CPU actually spent
        # would be wrong, so refuse rather than print a flattering number.
        raise SystemExit("argon2 phase hit --max-seconds; lower --argon2-hashes")
    return Argon2Result(repr(hasher), threads, done, seconds, cpu, meter.other_cores())


# --- a lean HTTP/1.1 keep-alive client ----------------------------------------------------


class HttpError(Exception):
    pass


class _Response(asyncio.Protocol):
    """The client side of one keep-alive connection: bytes in, one parsed response out.

    A protocol, not asyncio streams: no StreamReader buffering or ``readuntil`` calls per
    request. The client shares the server's two cores, so its CPU is part of what (b)
    measures. In (c) this cut it from 35 to 23 us per request; under (b)'s load the
    client's cost is mostly its wake-ups (~0.18 ms per request either way)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, dict[bytes, bytes], bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            response = self._parse(final=False)
            if response is not None:
                self.waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            response = self._parse(final=True)
            if response is not None:
                self.waiter.set_result(response)
            else:
                self.waiter.set_exception(ConnectionError("connection closed by the server"))

    def _parse(self, final: bool) -> tuple[int, dict[bytes, bytes], bytes] | None:
        """A complete response from the front of the buffer (removed from it), or None."""
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = bytes(buffer[:end]).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        hdrs: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            hdrs[name.strip().lower()] = value.strip()
        start = end + 4
        if b"content-length" in hdrs:
            stop = start + int(hdrs[b"content-length"])
            if len(buffer) < stop:
                return None
            payload = bytes(buffer[start:stop])
        elif hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts, at = [], start
            while True:
                line_end = buffer.find(b"\r\n", at)
                if line_end < 0:
                    return None
                size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
                if size == 0:
                    if buffer.find(b"\r\n", line_end + 2) < 0:
                        return None
                    stop = buffer.find(b"\r\n", line_end + 2) + 2
                    break
                if len(buffer) < line_end + 2 + size + 2:
                    return None
                parts.append(bytes(buffer[line_end + 2 : line_end + 2 + size]))
                at = line_end + 2 + size + 2
            payload = b"".join(parts)
        elif final:  # the body runs to the end of the connection
            stop = len(buffer)
            payload = bytes(buffer[start:])
        else:
            return None
        del buffer[:stop]
        return status, hdrs, payload


class Connection:
    """One keep-alive connection; requests are sequential on it."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self._protocol: _Response | None = None
        self._host = f"{HOST}:{port}".encode()

    async def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()

    async def request(
        self, method: bytes, path: bytes, headers: bytes = b"", body: bytes = b""
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        for attempt in (0, 1):
            fresh = self._protocol is None or self._protocol.closed
            if fresh:
                await self.close()
                loop = asyncio.get_running_loop()
                _, self._protocol = await asyncio.wait_for(
                    loop.create_connection(_Response, HOST, self.port), self.timeout
                )
            try:
                # asyncio.timeout, not wait_for: no extra task per request (client CPU).
                async with asyncio.timeout(self.timeout):
                    return await self._exchange(method, path, headers, body)
            except ConnectionError as exc:
                await self.close()
                # A reused connection may have been closed by the server's keep-alive
                # timeout between phases: retry once on a new one, never a fresh failure.
                if fresh or attempt:
                    raise HttpError(f"{type(exc).__name__}: {exc}") from exc
            except TimeoutError as exc:
                await self.close()
                raise HttpError("timeout") from exc
        raise AssertionError("unreachable")

    async def _exchange(
        self, method: bytes, path: bytes, headers: bytes, body: bytes
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        protocol = self._protocol
        assert protocol is not None and protocol.transport is not None
        if protocol.closed:
            raise ConnectionError("connection closed by the server")
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (method, path, self._host, headers)
        if body or method == b"POST":
            head += b"Content-Length: %d\r\n" % len(body)
        protocol.waiter = asyncio.get_running_loop().create_future()
        protocol.transport.write(head + b"\r\n" + body)
        status, hdrs, payload = await protocol.waiter
        if protocol.closed or hdrs.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, hdrs, payload


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: Sequence[float]) -> str:
    return f"p50 {_pct(values, 0.50) * 1000:.0f} ms, p99 {_pct(values, 0.99) * 1000:.0f} ms"


@dataclass
class LoadResult:
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # of the measured request
    other_latencies: list[float] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def fail(self, why: str) -> None:
        self.failed += 1
        self.failures[why] = self.failures.get(why, 0) + 1


async def run_load(
    port: int,
    total: int,
    concurrency: int,
    max_seconds: float,
    timeout: float,
    one: Callable[[Connection, int, LoadResult], Awaitable[None]],
) -> LoadResult:
    """``total`` units of work over ``concurrency`` keep-alive connections, bounded in time."""
    result = LoadResult()
    counter = iter(range(total))
    deadline = time.monotonic() + max_seconds

    async def worker() -> None:
        conn = Connection(port, timeout)
        try:
            for i in counter:
                if time.monotonic() > deadline:
                    result.timed_out = True
                    return
                try:
                    await one(conn, i, result)
                except HttpError as exc:
                    result.fail(str(exc)[:60])
        finally:
            await conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, total))))
    result.seconds = time.perf_counter() - t0
    return result


# --- the three workloads ------------------------------------------------------------------

HX = b"HX-Request: true\r\n"
FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"


def _password() -> str:
    # 16 characters, one call into the CSPRNG (secrets.choice per character made 16).
    return secrets.token_urlsafe(12)


def registration_worker(
    run_id: str, pool: str, plain_post: bool
) -> Callable[[Connection, int, LoadResult], Awaitable[None]]:
    path = f"/embed/{pool}/register".encode()

    async def one(conn: Connection, i: int, result: LoadResult) -> None:
        t0 = time.perf_counter()
        status, _, body = await conn.request(b"GET", path)
        t1 = time.perf_counter()
        result.other_latencies.append(t1 - t0)
        flow, csrf = FLOW_RE.search(body), CSRF_RE.search(body)
        if status != 200 or flow is None or csrf is None:
            result.fail(f"GET form: {status}")
            return
        email = f"bench-{run_id}-{i}@example.com"
        ticket = TICKET_RE.search(body)
        form = (
            b"flow_id="
            + flow.group(1)
            + b"&csrf_token="
            + csrf.group(1)
            + (b"&flow_ticket=" + ticket.group(1) if ticket else b"")
            + b"&email="
            + quote_plus(email).encode()
            + b"&password="
            + quote_plus(_password()).encode()
        )
        t1 = time.perf_counter()
        if plain_post:
            # A form post without htmx: 303 to the flow page, which shows the code step.
            status, headers, body = await conn.request(b"POST", path, FORM, form)
            if status == 303:
                location = urlsplit(headers.get(b"location", b"").decode())
                target = (location.path + ("?" + location.query if location.query else "")).encode()
                status, _, body = await conn.request(b"GET", target)
        else:
            status, _, body = await conn.request(b"POST", path, FORM + HX, form)
        result.latencies.append(time.perf_counter() - t1)
        if status == 200 and CODE_STATE in body:
            result.ok += 1
        elif status == 503:
            result.fail("POST 503 (hash pool overloaded)")
        elif FORM_STATE in body:
            result.fail(f"POST {status}: form shown again (validation/flow error)")
        else:
            result.fail(f"POST {status}")

    return one


def get_worker(
    path: str, expect: bytes
) -> Callable[[Connection, int, LoadResult], Awaitable[None]]:
    raw = path.encode()

    async def one(conn: Connection, i: int, result: LoadResult) -> None:
        t0 = time.perf_counter()
        status, _, body = await conn.request(b"GET", raw)
        result.latencies.append(time.perf_counter() - t0)
        if status == 200 and expect in body:
            result.ok += 1
        else:
            result.fail(f"GET {path}: {status}")

    return one


# --- the C load generator for (b) -------------------------------------------------------


def build_loadgen(tmp: Path) -> Path | None:
    """``bench/loadgen.c`` compiled into ``tmp``; None (with a note) if that fails."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        print("    note: no C compiler; (b) uses the asyncio client (~10x its CPU)")
        return None
    binary = tmp / "loadgen"
    built = subprocess.run(
        [gcc, "-O2", "-o", str(binary), str(BENCH_DIR / "loadgen.c")],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        print(f"    note: loadgen.c did not build ({built.stderr.strip()[:200]}); asyncio client")
        return None
    return binary


def run_loadgen(
    binary: Path,
    port: int,
    total: int,
    concurrency: int,
    timeout: float,
    max_seconds: float,
    run_id: str,
) -> tuple[LoadResult, float]:
    """The registrations of (b) by ``loadgen``; and the CPU seconds it used."""
    cmd = [str(binary), str(port), "partner-1", str(total), str(concurrency), str(timeout)]
    cmd += [str(max_seconds), run_id]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"loadgen failed with exit code {proc.returncode}")
    result = LoadResult()
    for line in output.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "P":
            result.latencies.append(float(rest))
        elif kind == "G":
            result.other_latencies.append(float(rest))
        elif kind == "F":
            result.failures[rest] = result.failures.get(rest, 0) + 1
        elif kind == "R":
            ok, failed, seconds, timed_out = rest.split()
            result.ok, result.failed = int(ok), int(failed)
            result.seconds, result.timed_out = float(seconds), timed_out == "1"
    return result, usage.ru_utime + usage.ru_stime


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    # Own session: a Ctrl+C on the bench does not hit the server mid-request, and the
    # cleanup below can reach granian's worker processes (children of the one we started).
    return subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(proc: subprocess.Popen[bytes] | None, group_interrupt: bool = False) -> None:
    """Stop a process started by ``start`` and anything left in the session it leads.

    ``start_new_session`` made the process the leader of its own process group, so the
    group holds only what we started (the server, granian workers, a py-spy wrapper and
    its child); nothing else is ever signalled.
    """
    if proc is None:
        return
    pgid = proc.pid
    if proc.poll() is None:
        if group_interrupt:
            # A wrapper such as py-spy writes its output on SIGINT and does not forward it:
            # interrupt the whole group (wrapper + server), as Ctrl+C would.
            os.killpg(pgid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    # Leftovers (a server that ignored SIGINT under a wrapper, granian workers): TERM, then KILL.
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        deadline = time.monotonic() + grace
        while _group_alive(pgid) and time.monotonic() < deadline:
            if proc.poll() is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=0.2)
            else:
                time.sleep(0.2)
        if not _group_alive(pgid):
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
    if proc.poll() is None:
        proc.wait(timeout=5)


async def wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"server exited with {proc.returncode}; log:\n{log.read_text()[-3000:]}"
            )
        conn = Connection(port, 2.0)
        try:
            status, _, body = await conn.request(b"GET", b"/healthz")
            if status == 200 and body.strip() == b"ok":
                return
        except (HttpError, OSError):
            pass
        finally:
            await conn.close()
        await asyncio.sleep(0.2)
    raise SystemExit(f"server not ready after {seconds}s; log:\n{log.read_text()[-3000:]}")


async def reset_postgres(url: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    if parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"refusing a non-local database: {parts.hostname}")
    conn = await asyncpg.connect(parts.geturl(), timeout=10)
    try:
        await conn.execute("drop schema public cascade; create schema public")
    finally:
        await conn.close()


def mail_count(maildir: Path) -> int:
    return smtp_sink.count(maildir)


def print_thread_cpu(
    pid: int,
    before: dict[int, float],
    after: dict[int, float],
    wall: float,
    count: int,
    unit: str = "registration",
) -> None:
    names = thread_names(pid)
    groups: dict[str, list[float]] = {}
    for tid, cpu in after.items():
        name = names.get(tid, f"tid {tid}")
        name = "MainThread (event loop)" if tid == pid else re.sub(r"^Thread-\d+ ", "", name)
        groups.setdefault(name, []).append(cpu - before.get(tid, 0.0))
    print(f"    server threads over the window (pid {pid}):")
    for name, cpus in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
        if sum(cpus) >= 0.005 * wall:
            print(
                f"        {name:40s} x{len(cpus):<2d} {sum(cpus) / wall:.2f} cores, "
                f"{sum(cpus) / max(1, count) * 1000:.2f} ms per {unit}"
            )


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--registrations", type=int, default=600, help="measured registrations (b)")
    p.add_argument("--concurrency", type=int, default=32, help="parallel keep-alive clients")
    servers = ["uvicorn"] + (["granian"] if shutil.which("granian", path=str(VENV_BIN)) else [])
    p.add_argument("--server", choices=servers, default="uvicorn")
    p.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--postgres-url", default=PG_DEFAULT, help="local only; its schema is dropped")
    p.add_argument(
        "--argon2-hashes", type=int, default=300, help="hashes timed per bound measurement"
    )
    p.add_argument(
        "--get-requests", type=int, default=3000, help="requests per form endpoint in (c)"
    )
    p.add_argument(
        "--healthz-requests",
        type=int,
        default=20000,
        help="requests to /healthz in (c) (it is ~10-30x faster, so more are needed)",
    )
    p.add_argument("--warmup", type=int, default=64, help="registrations before measuring")
    p.add_argument(
        "--slices",
        type=int,
        default=3,
        help="(b) in this many slices with the bound measured between them (1: before and "
        "after only)",
    )
    p.add_argument(
        "--plain-post",
        action="store_true",
        help="POST without HX-Request and follow the 303 (default: htmx fragment)",
    )
    p.add_argument(
        "--devsink",
        action="store_true",
        help="use the aiosmtpd dev sink (no PIPELINING, ~4x its CPU) instead of the "
        "bench's minimal SMTP responder",
    )
    p.add_argument(
        "--no-smtp-sink",
        action="store_true",
        help="point SMTP at an unused port instead (outbox retries in background)",
    )
    p.add_argument("--max-seconds", type=float, default=180.0, help="time bound of each phase")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout")
    p.add_argument("--skip", choices=["a", "b", "c"], action="append", default=[])
    p.add_argument(
        "--server-wrapper",
        default="",
        help="command prefix for the server, e.g. 'py-spy record -r 100 -f raw -o prof.txt --'",
    )
    p.add_argument(
        "--thread-cpu",
        action="store_true",
        help="print the server's CPU per thread over (b) (names via py-spy dump if installed)",
    )
    p.add_argument(
        "--cheap-hashes",
        action="store_true",
        help="diagnostic: the server hashes with t=1, m=8 KiB, so its CPU per registration "
        "is the overhead beyond argon2 (the ratio to (a) is then meaningless)",
    )
    p.add_argument(
        "--python-client",
        action="store_true",
        help="(b) with the asyncio client instead of bench/loadgen.c (implied by --plain-post)",
    )
    p.add_argument(
        "--asyncio-client",
        action="store_true",
        help="run the load generator on asyncio's own loop instead of uvloop",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, db, mail)")
    args = p.parse_args(argv)
    if (
        min(
            args.registrations,
            args.concurrency,
            args.get_requests,
            args.healthz_requests,
            args.argon2_hashes,
            args.warmup,
            args.slices,
        )
        < 1
    ):
        p.error("counts must be >= 1")
    return args


async def bench(args: argparse.Namespace) -> None:
    print(
        f"machine: {NCPU} cores, python {sys.version.split()[0]}; server={args.server}, "
        f"database={args.database}, concurrency={args.concurrency}",
        flush=True,
    )

    # (a) first, with nothing else running on the machine.
    a = _argon2_phase(args) if "a" not in args.skip else None

    tmp = Path(tempfile.mkdtemp(prefix="widget-bench-"))
    sink = server = None
    try:
        port = free_port()
        env = await _server_env(args, port, tmp)
        maildir = tmp / "mailbox"
        if not args.no_smtp_sink:
            sink_cmd = [
                sys.executable,
                str(BENCH_DIR / "smtp_sink.py"),
                str(maildir),
                env["WIDGET_SMTP_PORT"],
                *(["--devsink"] if args.devsink else []),
            ]
            sink = start(sink_cmd, env, tmp, tmp / "sink.log")

        _seed_demo(env, tmp, port)

        cmd = args.server_wrapper.split() + _server_cmd(args, port)
        server = start(cmd, env, tmp, tmp / "server.log")
        await wait_ready(port, server, tmp / "server.log", 60)
        meter = lambda: CpuMeter(server_pid=server.pid, sink_pid=sink.pid if sink else None)  # noqa: E731
        run_id = secrets.token_hex(4)

        if "b" not in args.skip:
            b = await _registration_phase(args, port, run_id, tmp, server.pid, a, meter)
            if a is not None:
                # (a) again, right after (b): the machine's speed drifts by several per
                # cent within seconds, so each slice of (b) is compared with the bound on
                # both sides of it.
                print_sliced_ratio(b, a, _argon2_phase(args, "(a') after (b)"))
        if "c" not in args.skip:
            await _form_vs_plain_phase(args, port, meter)
        if args.keep:
            print(f"kept: {tmp}")
    finally:
        stop(server, group_interrupt=bool(args.server_wrapper))
        stop(sink)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def _argon2_phase(args: argparse.Namespace, label: str = "(a)") -> Argon2Result:
    a = argon2_bound(args.argon2_hashes, args.max_seconds)
    print(
        f"{label} argon2 bound: {a.rate:.1f} hashes/s  [{a.hasher}, {a.threads} threads, "
        f"{a.hashes} hashes in {a.seconds:.2f}s, "
        f"{a.seconds / a.hashes * a.threads * 1000:.1f} ms "
        f"per hash per thread, {a.cpu / a.seconds:.2f} cores busy; other processes "
        f"~{a.other_cores:.2f} cores]",
        flush=True,
    )
    return a


class Bound(Protocol):
    @property
    def rate(self) -> float: ...


def print_ratio(what: str, rate: float, before: Bound, after: Bound) -> None:
    """(b) against the bound measured before and after it; the verdict uses their mean."""
    mean = (before.rate + after.rate) / 2
    verdict = "meets" if rate >= 0.85 * mean else "BELOW"
    print(
        f"==> {what} {rate:.1f}/s against the bound {before.rate:.1f} before / "
        f"{after.rate:.1f} after: {rate / before.rate:.0%} / {rate / after.rate:.0%}, "
        f"{rate / mean:.1%} of their mean ({verdict} the 85% target)",
        flush=True,
    )


async def _server_env(args: argparse.Namespace, port: int, tmp: Path) -> dict[str, str]:
    """The environment of the server and sink processes (resets the database if postgres)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env |= {
        "WIDGET_SECRET_KEY": secrets.token_urlsafe(32),
        "WIDGET_PUBLIC_URL": f"http://{HOST}:{port}",
        "WIDGET_SMTP_HOST": HOST,
        "PYTHONUNBUFFERED": "1",
    }
    if args.cheap_hashes:
        env |= {"WIDGET_ARGON2_TIME_COST": "1", "WIDGET_ARGON2_MEMORY_KIB": "8"}
    if args.database == "postgres":
        await reset_postgres(args.postgres_url)
        env["WIDGET_DATABASE_URL"] = args.postgres_url
    else:
        env["WIDGET_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / 'widget.db'}"
    env["WIDGET_SMTP_PORT"] = str(free_port())
    return env


def _seed_demo(env: dict[str, str], tmp: Path, port: int) -> None:
    seed = subprocess.run(
        [
            str(VENV_BIN / "widget-server"),
            "seed-demo",
            "--create",  # a fresh database every run
            "--origin",
            f"http://{HOST}:{port}",
        ],
        env=env,
        cwd=tmp,
        capture_output=True,
        timeout=120,
    )
    if seed.returncode:
        raise SystemExit(f"seed-demo failed:\n{seed.stdout.decode()}{seed.stderr.decode()}")


def _server_cmd(args: argparse.Namespace, port: int) -> list[str]:
    if args.server == "granian":
        return [
            str(VENV_BIN / "granian"),
            "--interface",
            "asgi",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            "1",
            "--backlog",
            "4096",
            "--no-access-log",
            "--factory",
            "--working-dir",
            str(BENCH_DIR),
            "granian_app:app",
        ]
    return [str(VENV_BIN / "widget-server"), "serve", "--host", HOST, "--port", str(port)]


async def _registration_phase(
    args: argparse.Namespace,
    port: int,
    run_id: str,
    tmp: Path,
    server_pid: int,
    a: Argon2Result | None,
    meter: Callable[[], CpuMeter],
) -> Slices:
    """(b): registrations through the real endpoint, in ``--slices`` slices with the bound
    measured between them; then the outbox drain."""
    maildir = tmp / "mailbox"
    loadgen = None if args.python_client or args.plain_post else build_loadgen(tmp)

    async def load(total: int, run: str) -> tuple[LoadResult, float]:
        """``total`` registrations; and the CPU of a loadgen process (0 if in-process)."""
        if loadgen is not None:
            return await asyncio.to_thread(
                run_loadgen,
                loadgen,
                port,
                total,
                args.concurrency,
                args.timeout,
                args.max_seconds,
                run,
            )
        worker = registration_worker(run, "partner-1", args.plain_post)
        return await run_load(
            port, total, args.concurrency, args.max_seconds, args.timeout, worker
        ), 0.0

    warm, _ = await load(args.warmup, "w" + run_id)
    if warm.ok == 0:
        raise SystemExit(
            f"warm-up: no registration succeeded: {warm.failures}; "
            f"log: {(tmp / 'server.log').read_text()[-3000:]}"
        )
    await asyncio.sleep(1.0)  # let the outbox send the warm-up mail
    mail0 = mail_count(maildir)
    app_pid = max(_descendants(server_pid), key=_proc_cpu)  # the Python app process

    async def drain(expected: int) -> float:
        """Wait until ``expected`` messages are in the mailbox; the seconds it took."""
        t0 = time.monotonic()
        while not args.no_smtp_sink and mail_count(maildir) < expected:
            if time.monotonic() - t0 > 60:
                break
            await asyncio.sleep(0.05)
        return time.monotonic() - t0

    # The registrations in slices with the bound measured between them (the machine's
    # speed drifts within seconds): each slice is judged against the bound on both sides.
    sizes = [args.registrations // args.slices] * args.slices
    sizes[-1] += args.registrations - sum(sizes)
    window = _Window()
    between: list[Argon2Result] = []
    for k, size in enumerate(sizes):
        if k and a is not None:
            # The server is idle while the bound is measured: its mail delivered first.
            await drain(mail0 + sum(r.ok for r in window.results))
            with meter() as idle:
                between.append(_argon2_phase(args, f"(a{k}) between slices"))
            if idle.server > 0.02 * idle.wall:
                print(f"    (server busy during the bound: {idle.cores(idle.server):.2f} cores)")
        threads0, mail_before = thread_cpu(app_pid), mail_count(maildir)
        with meter() as cpu:
            result, loadgen_cpu = await load(size, f"{run_id}{k}")
        cpu.client += loadgen_cpu
        window.add(result, cpu, threads0, thread_cpu(app_pid), mail_count(maildir) - mail_before)
    drain_t0 = time.monotonic()
    with meter() as cpu_drain:
        await drain(mail0 + sum(r.ok for r in window.results))
    client = "loadgen.c" if loadgen is not None else "asyncio client"
    window.report(args, a, client, app_pid)
    if not args.no_smtp_sink:
        print(
            f"    mail: {window.mail} delivered during the slices, "
            f"{mail_count(maildir) - mail0}/{sum(r.ok for r in window.results)} after "
            f"{time.monotonic() - drain_t0:.1f}s drain (server CPU in drain "
            f"{cpu_drain.server:.1f}s)",
            flush=True,
        )
    return Slices(window.results, between)


@dataclass
class _Window:
    """What (b)'s slices measured, added up."""

    results: list[LoadResult] = field(default_factory=list)
    meters: list[CpuMeter] = field(default_factory=list)
    threads: dict[int, float] = field(default_factory=dict)
    mail: int = 0

    def add(
        self,
        result: LoadResult,
        meter: CpuMeter,
        threads0: dict[int, float],
        threads1: dict[int, float],
        mail: int,
    ) -> None:
        self.results.append(result)
        self.meters.append(meter)
        for tid, value in threads1.items():
            self.threads[tid] = self.threads.get(tid, 0.0) + value - threads0.get(tid, 0.0)
        self.mail += mail

    def report(
        self, args: argparse.Namespace, a: Argon2Result | None, client: str, app_pid: int
    ) -> None:
        b, cpu_b = merged(self.results), combined(self.meters)
        slices = f", {len(self.results)} slices" if len(self.results) > 1 else ""
        print(
            f"(b) registrations: {b.rate:.1f}/s  "
            f"({b.ok} ok, {b.failed} failed in {b.seconds:.2f}s"
            f"{', TIME BOUND HIT' if b.timed_out else ''}{slices})",
            flush=True,
        )
        print(f"    POST latency {_ms(b.latencies)}; GET form latency {_ms(b.other_latencies)}")
        if b.failures:
            print(f"    failures: {b.failures}")
        print(f"    {cpu_b.line()}")
        per_hash = ""
        if a is not None:
            per_hash = f" (argon2 alone: {a.seconds / a.hashes * a.threads * 1000:.1f} ms)"
        print(
            f"    server CPU per registration: "
            f"{cpu_b.server / max(1, b.ok) * 1000:.1f} ms{per_hash}; smtp sink "
            f"{cpu_b.sink / max(1, b.ok) * 1000:.2f} ms, "
            f"client {cpu_b.client / max(1, b.ok) * 1000:.2f} ms ({client})"
        )
        if args.thread_cpu:
            print_thread_cpu(app_pid, {}, self.threads, cpu_b.wall, b.ok)


@dataclass
class Slices:
    """(b)'s slices, and the bounds measured between them."""

    results: list[LoadResult]
    between: list[Argon2Result]

    @property
    def rate(self) -> float:
        return merged(self.results).rate


def print_sliced_ratio(slices: Slices, before: Argon2Result, after: Argon2Result) -> None:
    """Each slice against the mean of the bounds on either side of it; overall, the
    registrations done against what the bound would have hashed in the same time."""
    bounds = [before, *slices.between, after]
    if len(slices.results) == 1:
        print_ratio("registrations", slices.rate, before, after)
        return
    expected = 0.0
    for k, result in enumerate(slices.results):
        around = (bounds[k].rate + bounds[k + 1].rate) / 2
        expected += result.seconds * around
        print(
            f"    slice {k + 1}: {result.rate:.1f}/s against the bound {bounds[k].rate:.1f} / "
            f"{bounds[k + 1].rate:.1f} on either side: {result.rate / around:.0%}"
        )
    done = sum(r.ok for r in slices.results)
    ratio = done / expected
    seconds = sum(r.seconds for r in slices.results)
    verdict = "meets" if ratio >= 0.85 else "BELOW"
    print(
        f"==> registrations {done / seconds:.1f}/s against the bound {expected / seconds:.1f}"
        f" (the mean on either side of each slice, over the slices' time): {ratio:.1%}"
        f" ({verdict} the 85% target)",
        flush=True,
    )


async def _form_vs_plain_phase(
    args: argparse.Namespace, port: int, meter: Callable[[], CpuMeter]
) -> None:
    """(c): requests/s of the two form pages against /healthz."""
    targets = [
        (
            "GET /embed/partner-1/register",
            "/embed/partner-1/register",
            FORM_STATE,
            args.get_requests,
        ),
        (
            "GET /embed/business-1/register",
            "/embed/business-1/register",
            FORM_STATE,
            args.get_requests,
        ),
        ("GET /healthz", "/healthz", b"ok", args.healthz_requests),
    ]
    results: list[tuple[str, LoadResult, CpuMeter]] = []
    for label, path, expect, count in targets:
        worker = get_worker(path, expect)
        await run_load(
            port, min(300, count), args.concurrency, args.max_seconds, args.timeout, worker
        )  # warm-up
        with meter() as cpu_c:
            res = await run_load(
                port, count, args.concurrency, args.max_seconds, args.timeout, worker
            )
        results.append((label, res, cpu_c))
    plain = results[-1][1].rate
    print("(c) rendered form vs plain text:")
    for label, res, cpu_c in results:
        print(
            f"    {label:32s} {res.rate:8.0f} req/s  "
            f"({res.rate / plain:.0%} of healthz)  "
            f"{_ms(res.latencies)}  {res.ok} ok/{res.failed} failed"
            f"{' TIME BOUND HIT' if res.timed_out else ''}"
        )
        print(
            f"        server {cpu_c.server / max(1, res.ok) * 1e6:.0f} us CPU/request, "
            f"client {cpu_c.client / max(1, res.ok) * 1e6:.0f} us CPU/request; "
            f"{cpu_c.line()}"
        )
        if res.failures:
            print(f"        failures: {res.failures}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # The load generator shares the cores with the server: uvloop (as the server uses)
    # roughly halves its CPU per request.
    run = asyncio.run if args.asyncio_client or uvloop is None else uvloop.run
    run(bench(args))


if __name__ == "__main__":
    main()
