"""``/metrics``: off without a token, refused without the right one, and the counters move
with what happens (a registration, its code, logins, the hashing pool, the outbox);
latency is labelled by route template, so unknown paths add no series."""

from __future__ import annotations

import re
from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Harness, deliver_all
from tests.observe.conftest import TOKEN
from widget_server.clock import ManualClock
from widget_server.mail.senders import MemorySender
from widget_server.observe.metrics import sample
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.settings import Settings
from widget_server.web.app import create_app

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
AUTH = {"authorization": f"Bearer {TOKEN}"}


async def scrape(h: Harness) -> bytes:
    response = await h.client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.content


def value(body: bytes, name: str, **labels: str) -> float:
    return sample(body, name, labels.items())


async def test_a_registration_moves_its_counters(harness: Harness, widget) -> None:
    before = await scrape(harness)
    w = widget("partner-1")
    await w.open()
    refused = await w.post(email="metrics@example.com", password="short")
    assert refused.status == 422
    page = await w.post(email="metrics@example.com", password=GOOD_PASSWORD)
    assert page.state == "code"
    await deliver_all(harness)
    [code] = harness.codes_for("metrics@example.com")
    wrong = "000000" if code != "000000" else "111111"
    assert (await w.code(wrong)).status == 422
    assert (await w.code(code)).state == "done"

    after = await scrape(harness)
    pool = {"pool": "partner-1"}
    for name, labels, moved in [
        ("widget_registrations_started_total", pool, 1),
        ("widget_registration_steps_total", {**pool, "result": "invalid"}, 1),
        ("widget_registration_steps_total", {**pool, "result": "ok"}, 1),
        ("widget_registrations_completed_total", pool, 1),
        ("widget_registrations_activated_total", pool, 1),
        ("widget_codes_sent_total", {"purpose": "activation"}, 1),
        ("widget_codes_checked_total", {"purpose": "activation", "result": "failed"}, 1),
        ("widget_codes_checked_total", {"purpose": "activation", "result": "verified"}, 1),
        ("widget_outbox_sent_total", {"channel": "email"}, 1),
    ]:
        assert value(after, name, **labels) - value(before, name, **labels) == moved, name
    # The hashing pool saw the password's hash wait for a thread; its queue is empty now.
    assert value(after, "widget_hash_wait_seconds_count") >= 1
    assert value(after, "widget_hash_queue_depth") == 0
    # Latency by route template, not by path.
    assert value(
        after,
        "widget_http_request_duration_seconds_count",
        route="/embed/{pool_id}/register/code",
        method="POST",
        status="2xx",
    ) == 1
    # Nothing in the exposition names the person.
    assert b"metrics@example.com" not in after and code.encode() not in after


async def test_logins_are_counted_by_result(harness: Harness, widget) -> None:
    from tests.web.login_client import LoginClient

    w = widget("partner-1")
    await w.open()
    await w.post(email="login-metrics@example.com", password=GOOD_PASSWORD)
    await deliver_all(harness)
    [code] = harness.codes_for("login-metrics@example.com")
    await w.code(code)
    client = LoginClient(harness)
    await client.open()
    await client.submit("login-metrics@example.com", "Wrong-Password-123")
    await client.open()
    await client.submit("login-metrics@example.com", GOOD_PASSWORD)
    body = await scrape(harness)
    assert value(body, "widget_logins_total", pool="partner-1", result="failed") == 1
    assert value(body, "widget_logins_total", pool="partner-1", result="ok") == 1


async def test_outbox_lag_and_backlog_are_read_at_scrape(harness: Harness, widget) -> None:
    w = widget("partner-1")
    await w.open()
    await w.post(email="lag@example.com", password=GOOD_PASSWORD)
    harness.clock.advance(42)
    body = await scrape(harness)
    assert value(body, "widget_outbox_pending") == 1
    assert value(body, "widget_outbox_lag_seconds") == pytest.approx(42, abs=1)
    await deliver_all(harness)
    body = await scrape(harness)
    assert value(body, "widget_outbox_pending") == 0
    assert value(body, "widget_outbox_lag_seconds") == 0


async def test_a_token_is_required(harness: Harness) -> None:
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        response = await harness.client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert b"widget_" not in response.content


async def test_metrics_are_off_without_a_token(settings: Settings, clock: ManualClock) -> None:
    app = create_app(
        replace(settings, metrics_token=""),
        clock=clock,
        sender=MemorySender(),
        hasher=Argon2Hasher.fast_for_tests(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://widget.test") as client:
        response = await client.get("/metrics", headers={"authorization": "Bearer "})
    assert response.status_code == 404


async def test_unknown_paths_add_no_series(harness: Harness) -> None:
    for i in range(50):
        await harness.client.get(f"/no/such/path/{i}")
        await harness.client.request("BREW", f"/embed/partner-{i}/nothing-here")
    body = await scrape(harness)
    routes = {
        s.labels["route"]
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "widget_http_request_duration_seconds_count"
    }
    methods = {
        s.labels["method"]
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name == "widget_http_request_duration_seconds_count"
    }
    assert "/no/such/path/0" not in routes and "unmatched" in routes
    assert not any("partner-" in r for r in routes)
    assert methods <= {"GET", "POST", "OTHER"}
    assert value(
        body, "widget_http_request_duration_seconds_count", route="unmatched", method="OTHER"
    ) == 50


async def test_responses_carry_a_request_id(harness: Harness) -> None:
    first = await harness.client.get("/healthz")
    second = await harness.client.get("/no/such/path")
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(re.fullmatch("[0-9a-f]{20}", i) for i in ids)
    # A client's own id is not believed: no balancer is trusted here.
    third = await harness.client.get("/healthz", headers={"x-request-id": "forged-id"})
    assert third.headers["x-request-id"] != "forged-id"


async def test_a_trusted_balancers_request_id_is_kept(settings: Settings) -> None:
    app = create_app(replace(settings, trusted_proxies="127.0.0.1/32"), sender=MemorySender())
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://widget.test") as client:
        kept = await client.get("/healthz", headers={"x-request-id": "lb-7f3a.42:1"})
        assert kept.headers["x-request-id"] == "lb-7f3a.42:1"
        for unsafe in ('x" injected="1', "a" * 65, "new\\nline"):
            response = await client.get("/healthz", headers={"x-request-id": unsafe})
            assert re.fullmatch("[0-9a-f]{20}", response.headers["x-request-id"])
