"""``serve --workers 2``: the two processes' metrics add up at ``/metrics``, whichever
worker answers the scrape, from a directory of this run that goes when the server stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_serving import _environ, _free_port, _workers
from widget_server.observe.metrics import sample

TOKEN = "workers-scrape-token"


def _get(url: str, token: str | None = None) -> bytes:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return bytes(response.read())


@pytest.mark.skipif(sys.platform != "linux", reason="reads the processes from /proc")
def test_workers_metrics_add_up(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env |= {
        "WIDGET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'widget.db'}",
        "WIDGET_ARGON2_TIME_COST": "1",
        "WIDGET_ARGON2_MEMORY_KIB": "8",
        "WIDGET_METRICS_TOKEN": TOKEN,
    }
    cmd = [sys.executable, "-m", "widget_server.cli", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*cmd, "--workers", "2"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while len(workers := _workers(server.pid)) < 2 or not _ready(base):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        directory = {_environ(pid).get("PROMETHEUS_MULTIPROC_DIR") for pid in workers}
        assert len(directory) == 1 and None not in directory
        [path] = directory
        assert path is not None and Path(path).is_dir()
        before = sample(_get(f"{base}/metrics", TOKEN), *_healthz())
        for _ in range(40):  # a new connection each: the kernel spreads them
            assert _get(f"{base}/healthz") == b"ok"
        # Every scrape, whichever worker answers it, counts all 40.
        scrapes = [sample(_get(f"{base}/metrics", TOKEN), *_healthz()) for _ in range(6)]
        assert scrapes == [before + 40] * 6
        # Both workers write their own files there.
        pids = {name.rsplit("_", 1)[-1].removesuffix(".db") for name in os.listdir(path)}
        assert {str(pid) for pid in workers} <= pids
        # JSON log lines from the workers, with request ids.
        assert b'"request_id"' in (tmp_path / "serve.log").read_bytes()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert server.returncode == 0
    assert not Path(path).exists()


def _ready(base: str) -> bool:
    try:
        return _get(f"{base}/healthz") == b"ok"
    except OSError:
        return False


def _healthz() -> tuple[str, list[tuple[str, str]]]:
    labels = [("route", "/healthz"), ("method", "GET"), ("status", "2xx")]
    return "widget_http_request_duration_seconds_count", labels
