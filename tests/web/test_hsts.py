"""HSTS: ``Strict-Transport-Security`` on every HTTPS response, direct or behind a trusted
balancer that says the client used HTTPS; never over plain HTTP, and never because an
untrusted client claims HTTPS."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

from tests.conftest import Harness
from widget_server.forwarded import TrustedProxies
from widget_server.settings import Settings

BALANCER = "10.0.0.5"
OUTSIDER = "198.51.100.9"
PATHS = (
    "/embed/partner-1/register",
    "/admin/login",
    "/embed/nope/register",
    "/.well-known/jwks.json",
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trusted_proxies="10.0.0.0/24")


def client(h: Harness, base: str, peer: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=h.app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url=base)


async def test_https_responses_carry_hsts(harness: Harness) -> None:
    async with client(harness, "https://widget.test", OUTSIDER) as https:
        for path in PATHS:
            response = await https.get(path)
            assert response.headers["strict-transport-security"] == "max-age=31536000", path


async def test_plain_http_gets_none(harness: Harness) -> None:
    async with client(harness, "http://widget.test", OUTSIDER) as plain:
        for path in PATHS:
            assert "strict-transport-security" not in (await plain.get(path)).headers


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        {"X-Forwarded-Proto": "http, https"},  # the nearest hop's word counts
    ],
)
async def test_a_trusted_balancer_that_says_https_gets_hsts(
    harness: Harness, headers: dict[str, str]
) -> None:
    async with client(harness, "http://widget.test", BALANCER) as behind:
        response = await behind.get("/embed/partner-1/register", headers=headers)
    assert response.headers["strict-transport-security"] == "max-age=31536000"


async def test_an_untrusted_client_claiming_https_gets_none(harness: Harness) -> None:
    async with client(harness, "http://widget.test", OUTSIDER) as outsider:
        response = await outsider.get(
            "/embed/partner-1/register", headers={"X-Forwarded-Proto": "https"}
        )
    assert "strict-transport-security" not in response.headers


async def test_a_balancer_that_says_http_gets_none(harness: Harness) -> None:
    async with client(harness, "http://widget.test", BALANCER) as behind:
        response = await behind.get(
            "/embed/partner-1/register", headers={"X-Forwarded-Proto": "https, http"}
        )
    assert "strict-transport-security" not in response.headers


def test_the_scheme_is_read_from_the_configured_header_only() -> None:
    xff = TrustedProxies.from_settings("10.0.0.0/24", "x-forwarded-for")
    rfc = TrustedProxies.from_settings("10.0.0.0/24", "forwarded")
    proto = [(b"x-forwarded-proto", b"https")]
    forwarded = [(b"forwarded", b'for=203.0.113.7;proto="https", for=10.0.0.9;proto=https')]
    assert xff.scheme(BALANCER, proto) == "https"
    assert xff.scheme(BALANCER, forwarded) is None
    assert rfc.scheme(BALANCER, forwarded) == "https"
    assert rfc.scheme(BALANCER, proto) is None
    assert rfc.scheme(BALANCER, [(b"forwarded", b"for=1.2.3.4;proto=gopher")]) is None
    assert xff.scheme(OUTSIDER, proto) is None
