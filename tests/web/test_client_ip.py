"""The client's address through the app behind a load balancer: the balancer's header is
read only when the balancer sent it, throttles and the audit log key on the result, and
nothing a client writes into the header moves it elsewhere."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.admin.keys import MakeKey
from tests.conftest import Harness, rows
from tests.web.portal_client import LEAD, OPERATOR, ORIGIN, seed_admins
from widget_server.models import AuditEvent
from widget_server.settings import Settings
from widget_server.web.app import create_app

BALANCER = "10.0.0.5"
OUTSIDER = "198.51.100.9"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trusted_proxies="10.0.0.0/24")


@pytest.fixture
async def h(harness: Harness) -> AsyncIterator[Harness]:
    await seed_admins(harness)
    yield harness


def client_from(h: Harness, peer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=h.app, client=(peer, 40000)), base_url=ORIGIN
    )


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str, forwarded: str | None
) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    data = {"email": email, "password": password}
    return (await client.post("/admin/login", data=data, headers=headers)).status_code


async def login_ips(h: Harness) -> list[str | None]:
    return [e.ip for e in await rows(h, AuditEvent) if e.action == "admin.login"]


async def test_the_audit_log_records_the_address_the_balancer_forwarded(h: Harness) -> None:
    async with client_from(h, BALANCER) as balancer, client_from(h, OUTSIDER) as outsider:
        # The client claimed 6.6.6.6; the balancer appended the address it saw.
        assert await sign_in(balancer, LEAD.email, LEAD.password, "6.6.6.6, 203.0.113.7") == 303
        # Straight from the internet, the header is the client's own word: ignored.
        assert await sign_in(outsider, LEAD.email, LEAD.password, "203.0.113.99") == 303
    assert await login_ips(h) == ["203.0.113.7", OUTSIDER]


async def test_the_api_audits_the_forwarded_address(h: Harness, make_key: MakeKey) -> None:
    operator = await make_key("tenant_admin")
    async with client_from(h, BALANCER) as balancer:
        headers = operator.headers | {"X-Forwarded-For": "203.0.113.8"}
        created = await balancer.post(
            "/api/admin/pools",
            headers=headers,
            json={"id": "p-audit", "name": "Audited", "payload_schema_id": "consumer-basic"},
        )
        assert created.status_code == 201, created.text
    events = [e for e in await rows(h, AuditEvent) if e.action == "pool.create"]
    assert [e.ip for e in events] == ["203.0.113.8"]


async def test_the_sign_in_throttle_counts_each_forwarded_client_not_the_balancer(
    h: Harness,
) -> None:
    async with client_from(h, BALANCER) as balancer:
        for n in range(30):
            assert await sign_in(balancer, f"g{n}@acme.test", "nope-nope", "203.0.113.66") == 401
        assert await sign_in(balancer, OPERATOR.email, OPERATOR.password, "203.0.113.66") == 429
        # Another person behind the same balancer is not slowed down.
        assert await sign_in(balancer, OPERATOR.email, OPERATOR.password, "203.0.113.67") == 303


async def test_a_client_cannot_escape_its_counter_by_forging_the_header(h: Harness) -> None:
    async with client_from(h, OUTSIDER) as outsider:
        for n in range(30):
            forged = f"203.0.113.{n}"
            assert await sign_in(outsider, f"g{n}@acme.test", "nope-nope", forged) == 401
        assert await sign_in(outsider, OPERATOR.email, OPERATOR.password, "192.0.2.1") == 429
    async with client_from(h, BALANCER) as balancer:
        # Through the balancer, an attacker prepending addresses still lands on their own.
        for n in range(30):
            chain = f"203.0.113.{n}, 198.51.100.77"
            assert await sign_in(balancer, f"h{n}@acme.test", "nope-nope", chain) == 401
        assert await sign_in(balancer, LEAD.email, LEAD.password, "1.1.1.1, 198.51.100.77") == 429


async def test_without_trusted_proxies_the_header_is_never_read(h: Harness) -> None:
    app = create_app(dataclasses.replace(h.settings, trusted_proxies=""))
    # The ASGI layers around the router, outermost first.
    layers, handler = [], app.asgi_handler
    while handler is not None:
        layers.append(type(handler).__name__)
        handler = getattr(handler, "app", None)
    assert layers[:2] == ["RequestTelemetry", "SecurityHeadersMiddleware"]
    assert "ForwardedClientMiddleware" not in layers
    trusting = create_app(dataclasses.replace(h.settings, trusted_proxies="10.0.0.0/8"))
    outer = trusting.asgi_handler
    assert type(outer.app).__name__ == "ForwardedClientMiddleware"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [{"trusted_proxies": "10.0.0.0/33"}, {"trusted_proxies": "lb"}, {"proxy_header": "x-ip"}],
)
def test_a_mistyped_proxy_setting_stops_the_app_by_name(
    settings: Settings, bad: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match=r"WIDGET_(TRUSTED_PROXIES|PROXY_HEADER)"):
        create_app(dataclasses.replace(settings, **bad))  # type: ignore[arg-type]
