"""End-to-end fixtures: the real ``widget-server demo`` in a subprocess, a real SMTP sink
in this process, and Debian Chromium driven by pytest-playwright.

The widget is served on ``http://localhost:A`` and the partner page on
``http://127.0.0.1:B``: two different *sites*, so the iframe is truly cross-site.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness import Demo, Mailbox, free_port
from playwright.sync_api import Page, ViewportSize, expect

from widget_server.mail.devsink import SmtpSink
from widget_server.sms.receiver import ReceiverServer, SmsReceiver

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
MOBILE: ViewportSize = {"width": 420, "height": 900}
START_TIMEOUT = 30.0

# Generous for a loaded CI box; every wait is on a locator, so passing runs stay fast.
expect.set_options(timeout=10_000)


@dataclass(frozen=True)
class Sink:
    port: int
    mailbox: Mailbox


@pytest.fixture(scope="session")
def smtp_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    """A real aiosmtpd SMTP server in this process, filing mail into a Maildir."""
    directory = tmp_path_factory.mktemp("smtp") / "maildir"
    sink = SmtpSink(directory, port=free_port())
    sink.start()
    try:
        yield Sink(sink.port, Mailbox(directory))
    finally:
        sink.stop()


@pytest.fixture(scope="session")
def mailbox(smtp_sink: Sink) -> Mailbox:
    return smtp_sink.mailbox


SMS_SECRET = "e2e-sms-webhook-secret"


@pytest.fixture(scope="session")
def sms_gateway() -> Iterator[ReceiverServer]:
    """The "SMS gateway": a real HTTP receiver (uvicorn, widget_server/sms/receiver.py)
    that checks the webhook signature and keeps the texts the demo sends."""
    server = ReceiverServer(SmsReceiver(SMS_SECRET), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- The demo server ----------------------------------------------------------------------


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"demo exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} not up after {START_TIMEOUT}s:\n{log.read_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def demo(
    tmp_path_factory: pytest.TempPathFactory, smtp_sink: Sink, sms_gateway: ReceiverServer
) -> Iterator[Demo]:
    """``widget-server demo`` with fresh SQLite, mailing to our sink and texting our
    webhook receiver; stopped at the end."""
    with run_demo(tmp_path_factory.mktemp("demo"), smtp_sink, sms_gateway) as running:
        yield running


@contextlib.contextmanager
def run_demo(
    data: Path,
    smtp_sink: Sink,
    sms_gateway: ReceiverServer,
    extra: Mapping[str, str] | None = None,
) -> Iterator[Demo]:
    """A demo of its own in ``data``, with ``extra`` WIDGET_* settings (a test that needs
    the server to behave differently starts one with this)."""
    widget_port, partner_port = free_port(), free_port()
    # Unknown WIDGET_* variables are a startup error, and a stray WIDGET_DATABASE_URL
    # would point the demo at a shared database: start from a clean slate.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env |= {
        "WIDGET_SMTP_HOST": "127.0.0.1",
        "WIDGET_SMTP_PORT": str(smtp_sink.port),
        "WIDGET_ARGON2_TIME_COST": "1",
        "WIDGET_ARGON2_MEMORY_KIB": "8",
        "WIDGET_OUTBOX_POLL_SECONDS": "0.2",
        "WIDGET_SMS_PROVIDER": "webhook",
        "WIDGET_SMS_WEBHOOK_URL": sms_gateway.url,
        "WIDGET_SMS_WEBHOOK_SECRET": SMS_SECRET,
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }
    log = data / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "widget_server.cli", "demo", "--no-smtp-sink",
             "--data-dir", str(data / "db"), "--widget-port", str(widget_port),
             "--partner-port", str(partner_port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        widget_origin = f"http://localhost:{widget_port}"
        partner_origin = f"http://127.0.0.1:{partner_port}"
        _wait_http(f"http://127.0.0.1:{widget_port}/healthz", proc, log, deadline)
        _wait_http(f"{partner_origin}/", proc, log, deadline)
        yield Demo(widget_origin, partner_origin)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        if os.environ.get("E2E_SHOW_SERVER_LOG"):
            sys.stderr.write(log.read_text())


# --- Browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": DESKTOP}


@pytest.fixture
def shot() -> Callable[..., None]:
    """``shot(page, "name")`` saves e2e/screenshots/name.png (full page, 1280x900);
    ``mobile=True`` also saves name-mobile.png at 420 px wide and restores the viewport.
    ``settle`` runs after each resize, e.g. to wait for the iframe to fit its content.
    CSS animations are fast-forwarded so the pictures do not depend on timing."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(
        page: Page, name: str, *, mobile: bool = False,
        settle: Callable[[], None] = lambda: None,
    ) -> None:
        settle()
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, animations="disabled")
        if mobile:
            before = page.viewport_size or DESKTOP
            page.set_viewport_size(MOBILE)
            settle()
            # Chromium sometimes captures a scroll container (the snippet <pre>) before
            # it repaints after a resize; a throwaway capture forces the paint.
            page.screenshot(full_page=True)
            page.screenshot(
                path=SCREENSHOTS / f"{name}-mobile.png", full_page=True, animations="disabled"
            )
            page.set_viewport_size(before)
            settle()

    return take
