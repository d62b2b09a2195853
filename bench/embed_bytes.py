"""Bytes on the wire for embedding the widget: a first visit and a repeat visit, before
and after a change, in one run (a benchmark, not a test: it prints figures).

    .venv/bin/python bench/embed_bytes.py --before /path/to/other/checkout

Each checkout runs its own ``widget-server demo`` (its own code, static files and a
fresh SQLite folder; this venv's packages). Headless Chromium opens the demo's partner
page (``127.0.0.1``), which embeds the registration widget from ``localhost``, waits for
the network to settle, and sums what came from the widget's origin: response headers +
encoded (compressed) bodies, as Chromium reports them. Then it reloads the page in the
same browser context (its HTTP cache warm) and sums again. Everything stays on loopback;
the servers are ended by PID.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, Request, sync_playwright

HERE = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Demo:
    checkout: Path
    widget: int = field(default_factory=free_port)
    partner: int = field(default_factory=free_port)
    smtp: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self, data: Path) -> None:
        code = "import sys; from widget_server.cli import main; main(sys.argv[1:])"
        argv = [sys.executable, "-c", code, "demo", "--data-dir", str(data)]
        argv += ["--widget-port", str(self.widget), "--partner-port", str(self.partner)]
        argv += ["--smtp-port", str(self.smtp)]
        env = {**os.environ, "PYTHONPATH": str(self.checkout)}
        self.process = subprocess.Popen(
            argv, cwd=self.checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.partner}/", timeout=1)
                urllib.request.urlopen(f"http://localhost:{self.widget}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"demo of {self.checkout} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Tally:
    requests: int = 0
    bytes: int = 0
    cached: int = 0

    def add(self, request: Request) -> None:
        sizes = request.sizes()
        response = request.response()
        if response is None:
            return
        self.requests += 1
        wire = sizes["responseHeadersSize"] + sizes["responseBodySize"]
        self.bytes += max(wire, 0)
        if wire <= 0:
            self.cached += 1


def visit(page: Page, url: str, origin: str) -> Tally:
    tally = Tally()

    def finished(request: Request) -> None:
        if request.url.startswith(origin):
            tally.add(request)

    page.on("requestfinished", finished)
    page.goto(url, wait_until="networkidle")
    page.frame_locator("iframe").locator("form").first.wait_for(timeout=10_000)
    page.wait_for_timeout(500)
    page.remove_listener("requestfinished", finished)
    return tally


def measure(demo: Demo) -> tuple[Tally, Tally]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        page = context.new_page()
        url, origin = f"http://127.0.0.1:{demo.partner}/", f"http://localhost:{demo.widget}/"
        first = visit(page, url, origin)
        repeat = visit(page, url, origin)
        browser.close()
    return first, repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--after", type=Path, default=HERE, help="default: this checkout")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, checkout in (("before", args.before), ("after", args.after)):
            demo = Demo(checkout.resolve())
            demo.start(Path(tmp) / label)
            try:
                rows.append((label, *measure(demo)))
            finally:
                demo.stop()
    print(f"{'':8} {'first visit':>24} {'repeat visit':>26}")
    for label, first, repeat in rows:
        print(
            f"{label:8} {first.bytes:>10,} B in {first.requests:>2} responses"
            f" {repeat.bytes:>10,} B in {repeat.requests:>2} ({repeat.cached} from cache)"
        )


if __name__ == "__main__":
    main()
