"""``widget-server serve --workers N``: N processes on one port, each hashing on its share
of the cores, migrated once by the parent, all stopped with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from widget_server import serving
from widget_server.cli import main
from widget_server.settings import Settings


def test_each_worker_hashes_on_its_share_of_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "cores", lambda: 8)
    assert [serving.hash_slots_per_worker(Settings(), n) for n in (1, 2, 3, 8, 16)] == [
        8,
        4,
        2,
        1,
        1,  # more workers than cores: one thread each, never none
    ]
    # Set explicitly, it is what each process gets.
    assert serving.hash_slots_per_worker(Settings(hash_slots=3), 4) == 3


def test_workers_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--workers", "0"])
    assert "must be 1 or more" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


def _workers(pid: int) -> list[int]:
    """The server processes among ``pid``'s children (not multiprocessing's tracker)."""
    return [
        child
        for child in _children(pid)
        if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if item)


@pytest.mark.skipif(sys.platform != "linux", reason="reads the processes from /proc")
def test_serve_with_workers_runs_them_on_one_port(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env |= {
        "WIDGET_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'widget.db'}",
        "WIDGET_ARGON2_TIME_COST": "1",
        "WIDGET_ARGON2_MEMORY_KIB": "8",
    }
    cmd = [sys.executable, "-m", "widget_server.cli", "serve", "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [*cmd, "--workers", "2"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 90  # two workers importing on a busy test machine
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        while len(workers := _workers(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2
        expected = str(max(1, len(os.sched_getaffinity(0)) // 2))
        assert {_environ(pid)["WIDGET_HASH_SLOTS"] for pid in workers} == {expected}
        text = (tmp_path / "serve.log").read_text()
        assert "2 workers, " in text and "without WIDGET_REDIS_URL" in text
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    assert server.returncode == 0
    # The workers ended with their parent (uvicorn's supervisor waits for them).
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]
