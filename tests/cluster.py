"""Real server processes behind a real HAProxy, for the scale-out test.

``cluster(n, tmp)`` migrates and seeds a fresh PostgreSQL database with the CLI, starts
``n`` ``widget-server serve`` processes sharing it and Redis, an SMTP sink (the dev
sink's aiosmtpd server, filing a Maildir) and HAProxy in front of them, round-robin with
health checks on ``/healthz``; then stops what it started, each process by its PID.

Addresses: the test's clients connect to HAProxy from an address of their own in
127.0.0.0/8; HAProxy connects to the servers from 127.0.0.2, the one proxy they trust
(``WIDGET_TRUSTED_PROXIES``), and adds ``X-Forwarded-For``; so the servers see each client's
own address, and never one a client wrote into the header itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from tests.two_apps import REDIS_URL, require_redis
from widget_server.mail.devsink import SmtpSink, read_mailbox

HOST = "127.0.0.1"
PROXY_SOURCE = "127.0.0.2"
VENV_BIN = Path(sys.executable).parent


def require_haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        message = "HAProxy not installed: apt-get install -y haproxy (scripts/test installs it)"
        if os.environ.get("TEST_REQUIRE_HAPROXY") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Cluster:
    tmp: Path
    env: dict[str, str]
    servers: list[Server]
    lb_port: int
    maildir: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.lb_port}"

    def kill(self, server: Server) -> None:
        """SIGKILL, as the kernel's OOM killer or a lost machine would: no shutdown hook."""
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)

    def recipients(self) -> list[str]:
        """The recipient of every message the sink received."""
        return [entry.recipient for entry in read_mailbox(self.maildir, limit=1_000_000)]

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log.read_text()[-3000:]}" for s in self.servers)


def haproxy_config(lb_port: int, servers: list[Server]) -> str:
    backends = "\n".join(
        f"    server {s.name} {HOST}:{s.port} check source {PROXY_SOURCE}" for s in servers
    )
    return f"""
global
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    # A connection the killed process refused is tried again on another server.
    retries 3
    option redispatch 1
    option forwardfor

frontend widgets
    bind {HOST}:{lb_port}
    default_backend servers

backend servers
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 250ms fall 2 rise 2
    # Which process answered: the test checks the work was spread and survived the kill.
    http-response set-header X-Served-By %s
{backends}
"""


def _start(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("wb")
    try:
        return subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        out.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    """TERM, then KILL: only this process, by its PID."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "widget-server"), *args], env=env, cwd=cwd, capture_output=True, timeout=120
    )
    if done.returncode:
        raise AssertionError(f"widget-server {args[0]} failed:\n{done.stdout!r}\n{done.stderr!r}")


async def wait_healthy(url: str, seconds: float, process: subprocess.Popen[bytes]) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"{process.args!r} exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} not healthy after {seconds}s")


def server_env(lb_port: int, smtp_port: int, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    return env | {
        "WIDGET_DATABASE_URL": POSTGRES_URL,
        "WIDGET_REDIS_URL": REDIS_URL,
        "WIDGET_SECRET_KEY": secrets.token_urlsafe(32),
        "WIDGET_PUBLIC_URL": f"http://{HOST}:{lb_port}",
        "WIDGET_SMTP_HOST": HOST,
        "WIDGET_SMTP_PORT": str(smtp_port),
        "WIDGET_TRUSTED_PROXIES": f"{PROXY_SOURCE}/32",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


@contextlib.asynccontextmanager
async def cluster(count: int, tmp: Path, **overrides: str) -> AsyncIterator[Cluster]:
    haproxy = require_haproxy()
    await require_postgres()
    await require_redis()
    await reset_postgres()
    lb_port, maildir = free_port(), tmp / "mailbox"
    sink = SmtpSink(maildir, host=HOST, port=free_port())
    sink.start()
    env = server_env(lb_port, sink.port, **overrides)
    started: list[subprocess.Popen[bytes]] = []
    try:
        _cli(["migrate"], env, tmp)
        _cli(["seed-demo", "--origin", f"http://{HOST}:{lb_port}"], env, tmp)
        servers = []
        for n in range(1, count + 1):
            port, log = free_port(), tmp / f"server-{n}.log"
            serve = [str(VENV_BIN / "widget-server"), "serve", "--host", HOST, "--port", str(port)]
            started.append(_start(serve, env, tmp, log))
            servers.append(Server(f"s{n}", port, started[-1], log))
        for server in servers:
            await wait_healthy(f"http://{HOST}:{server.port}", 60, server.process)
        config = tmp / "haproxy.cfg"
        config.write_text(haproxy_config(lb_port, servers))
        started.append(_start([haproxy, "-db", "-f", str(config)], env, tmp, tmp / "haproxy.log"))
        await wait_healthy(f"http://{HOST}:{lb_port}", 20, started[-1])
        yield Cluster(tmp, env, servers, lb_port, maildir)
    finally:
        for process in reversed(started):
            _stop(process)
        sink.stop()
