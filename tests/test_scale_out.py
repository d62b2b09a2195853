"""Scale out, proved with real processes: three ``widget-server serve`` processes behind a
real HAProxy on one PostgreSQL and one Redis take a burst of 300 sign-ups whose clients
behave like the widget (honour ``Retry-After`` with jitter, resubmit); one process is
killed with SIGKILL mid-burst. Every sign-up that reached its code step is stored once
and its email is sent (a real SMTP sink), the two survivors serve the rest, and the login
throttles count across the processes.

Needs ``haproxy`` (skipped with a message without it, unless ``TEST_REQUIRE_HAPROXY=1``,
which CI sets), PostgreSQL and Redis. Bounded: 300 sign-ups, 90 s for the burst.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.cluster import Cluster, cluster
from tests.conftest import POSTGRES_URL
from widget_server.db import Database
from widget_server.models import Address

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.cluster]

SIGN_UPS = 300
CLIENTS = 10
KILL_AFTER = 100
BURST_SECONDS = 90.0
HX = {"HX-Request": "true"}
HIDDEN = re.compile(r'name="(flow_id|csrf_token|flow_ticket)" value="([^"]+)"')
CODE_STEP = 'data-state="code"'


@dataclass
class Burst:
    #: Email -> the process that answered with its code step.
    done: dict[str, str] = field(default_factory=dict)
    #: Email -> when (loop time) the request that reached its code step was sent.
    sent_at: dict[str, float] = field(default_factory=dict)
    refused: int = 0  # 503 + Retry-After
    broken: int = 0  # 502 or a dropped connection: the killed process had the request
    killed_at: float | None = None
    done_before_kill: int = 0


async def test_a_burst_survives_a_killed_process(tmp_path: Path) -> None:
    settings = {
        # One hash slot each: three processes share the two cores of these machines.
        "WIDGET_HASH_SLOTS": "1",
        # A short line, so that the burst is refused in part and clients wait their turn.
        "WIDGET_HASH_MAX_WAIT_SECONDS": "2",
        # What the killed process had claimed from the outbox goes out 5 s later.
        "WIDGET_OUTBOX_LEASE_SECONDS": "5",
        "WIDGET_OUTBOX_POLL_SECONDS": "0.5",
    }
    async with cluster(3, tmp_path, **settings) as c, clients(CLIENTS) as pool:
        burst = await run_burst(c, pool)
        await check_stored_and_sent(c, burst)
        await check_login_throttle_counts_across_processes(c, pool[0])
        await check_portal_throttle_counts_across_processes(c, pool[0])


@contextlib.asynccontextmanager
async def clients(count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """HTTP clients from an address of this run's own in 127.0.0.0/8 (per-IP counters in
    Redis outlive a run); HAProxy tells the servers which one. Several small connection
    pools: one pool of 300 connections costs httpx ~10x the CPU per request."""
    me = f"127.{random.randrange(1, 255)}.{random.randrange(0, 255)}.{random.randrange(2, 255)}"
    async with contextlib.AsyncExitStack() as stack:
        made = []
        for _ in range(count):
            transport = httpx.AsyncHTTPTransport(local_address=me)
            client = httpx.AsyncClient(transport=transport, timeout=60)
            made.append(await stack.enter_async_context(client))
        yield made


async def run_burst(c: Cluster, pool: list[httpx.AsyncClient]) -> Burst:
    burst = Burst()
    run = secrets.token_hex(3)
    victim = c.servers[1]

    async def kill_mid_burst() -> None:
        while len(burst.done) < KILL_AFTER:
            await asyncio.sleep(0.005)
        c.kill(victim)
        burst.killed_at = asyncio.get_running_loop().time()
        burst.done_before_kill = len(burst.done)

    loop = asyncio.get_running_loop()
    started = loop.time()
    killer = asyncio.create_task(kill_mid_burst())
    async with asyncio.timeout(BURST_SECONDS):
        await asyncio.gather(
            *(
                sign_up(c, pool[n % len(pool)], f"burst-{run}-{n}@example.com", burst)
                for n in range(SIGN_UPS)
            )
        )
    await killer
    assert burst.killed_at is not None
    served = Counter(burst.done.values())
    # Sent once the process was dead: the survivors must have answered.
    after = Counter(burst.done[e] for e, t in burst.sent_at.items() if t > burst.killed_at)
    print(
        f"\nburst: {len(burst.done)} sign-ups in {loop.time() - started:.1f}s, "
        f"{burst.refused} refusals (503), {burst.broken} requests broken by the kill "
        f"(after {burst.done_before_kill} sign-ups); served by {dict(served)}; sent after "
        f"the kill and served by {dict(after)}"
    )
    assert len(burst.done) == SIGN_UPS, c.logs()
    assert burst.done_before_kill < SIGN_UPS  # the kill came mid-burst
    # The killed process served its share before the kill, the survivors the rest.
    assert served[victim.name] > 0
    assert set(after) == {"s1", "s3"}
    return burst


async def sign_up(c: Cluster, client: httpx.AsyncClient, email: str, burst: Burst) -> None:
    """One person: open the form, submit it, and keep trying as the widget does."""
    path = c.url + "/embed/partner-1/register"
    password = secrets.token_urlsafe(12)
    while True:
        form = await _answer(client.get(path, params={"parent_origin": c.url}, headers=HX))
        if form is None or form.status_code != 200:
            burst.broken += 1
            await asyncio.sleep(random.uniform(0.1, 0.3))
            continue
        hidden = dict(HIDDEN.findall(form.text))
        body = {**hidden, "email": email, "password": password}
        while True:
            sent_at = asyncio.get_running_loop().time()
            answer = await _answer(client.post(path, data=body, headers=HX))
            if answer is None or answer.status_code in (502, 504):
                # The process died with the request: start again from a fresh form (the
                # same address: if it was stored, the owner now gets a notice instead).
                burst.broken += 1
                await asyncio.sleep(random.uniform(0.1, 0.3))
                break
            if answer.status_code == 503:
                burst.refused += 1
                wait = float(answer.headers.get("retry-after", "1"))
                await asyncio.sleep(wait * random.uniform(1.0, 1.5))  # the documented jitter
                continue
            assert answer.status_code == 200 and CODE_STEP in answer.text, (
                answer.status_code,
                answer.text[:400],
            )
            burst.done[email] = answer.headers.get("x-served-by", "?")
            burst.sent_at[email] = sent_at
            return


async def _answer(request: object) -> httpx.Response | None:
    try:
        return await request  # type: ignore[misc, no-any-return]
    except httpx.TransportError:
        return None


async def check_stored_and_sent(c: Cluster, burst: Burst) -> None:
    """Every sign-up that reached its code step is stored once, and mail reached it."""
    db = Database(POSTGRES_URL)
    try:
        async with db.read() as session:
            stored = dict(
                (
                    await session.execute(
                        select(Address.value, func.count())
                        .where(Address.pool_id == "partner-1", Address.value.like("burst-%"))
                        .group_by(Address.value)
                    )
                ).all()
            )
    finally:
        await db.dispose()
    assert stored == dict.fromkeys(burst.done, 1)
    # Mail from the killed process's claimed rows waits for its lease (5 s).
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        sent = Counter(c.recipients())
        missing = [e for e in burst.done if sent[e] == 0]
        if not missing or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert missing == [], f"{len(missing)} never got mail"
    twice = sum(1 for e in burst.done if sent[e] > 1)
    print(f"mail: {len(burst.done)} addresses reached, {twice} of them twice (at least once)")


async def check_login_throttle_counts_across_processes(
    c: Cluster, client: httpx.AsyncClient
) -> None:
    path = c.url + "/embed/partner-1/login"
    form = await client.get(path, params={"parent_origin": c.url}, headers=HX)
    hidden = dict(HIDDEN.findall(form.text))
    email = f"nobody-{secrets.token_hex(4)}@example.com"
    served = set()
    for _ in range(5):
        # Each failure's page carries the form again: post that (HAProxy alternates posts).
        answer = await client.post(
            path, data=hidden | {"identifier": email, "password": "no"}, headers=HX
        )
        assert message_ids(answer) == ["login.failed"], answer.text[:300]
        served.add(answer.headers.get("x-served-by"))
        hidden = dict(HIDDEN.findall(answer.text))
    assert served == {"s1", "s3"}  # the failures were counted on both survivors
    # A forged address does not reset the count: HAProxy adds the real one after it.
    forged = HX | {"X-Forwarded-For": "203.0.113.9"}
    answer = await client.post(
        path, data=hidden | {"identifier": email, "password": "no"}, headers=forged
    )
    assert (answer.status_code, message_ids(answer)) == (429, ["login.throttled"])


def message_ids(answer: httpx.Response) -> list[str]:
    return re.findall(r'data-message-id="([a-z_.]+)"', answer.text)


async def check_portal_throttle_counts_across_processes(
    c: Cluster, client: httpx.AsyncClient
) -> None:
    data = {"email": f"admin-{secrets.token_hex(4)}@example.com", "password": "not it at all"}
    headers = {"Origin": c.url}
    served = set()
    for _ in range(5):
        answer = await client.post(c.url + "/admin/login", data=data, headers=headers)
        assert answer.status_code == 401
        served.add(answer.headers.get("x-served-by"))
    assert served == {"s1", "s3"}
    answer = await client.post(c.url + "/admin/login", data=data, headers=headers)
    assert answer.status_code == 429
