"""Our Standard Webhooks signatures, checked by the reference library; the address checks
made before every request."""

from __future__ import annotations

import base64
import ipaddress
import time

import pytest
from cryptography.exceptions import InvalidTag
from standardwebhooks import Webhook, WebhookVerificationError

from tests.webhooks.conftest import StaticResolver
from widget_server.webhooks import signing
from widget_server.webhooks.urls import Refused, is_public, vetted_address

BODY = b'{"type":"webhook.test","timestamp":"2026-01-01T12:00:00Z","data":{}}'


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    one, two = signing.new_secret(), signing.new_secret()
    assert one != two and one.startswith("whsec_")
    assert len(base64.b64decode(one.removeprefix("whsec_"))) == 32


def test_the_reference_library_verifies_our_headers() -> None:
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(BODY, headers)["type"] == "webhook.test"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"test", b"tesT"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(BODY, headers)


def test_two_secrets_give_two_signatures_either_verifies() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    headers = signing.headers([new, old], "msg_2", int(time.time()), BODY)
    assert headers["webhook-signature"].count("v1,") == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)


def test_an_old_timestamp_is_refused_by_receivers() -> None:
    """Why the worker stamps the real time of the attempt, not the event's time."""
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_3", int(time.time()) - 3600, BODY)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_sealed_secrets_need_the_server_key_and_the_endpoint() -> None:
    sealed = signing.seal("server key", "ep-1", "whsec_abc")
    assert "whsec_abc" not in sealed and sealed.startswith("v1.")
    assert signing.unseal("server key", "ep-1", sealed) == "whsec_abc"
    for key, endpoint in (("another key", "ep-1"), ("server key", "ep-2")):
        with pytest.raises(InvalidTag):
            signing.unseal(key, endpoint, sealed)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("ff02::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


async def test_every_resolved_address_must_be_public() -> None:
    resolver = StaticResolver(
        {
            "good.example": ["93.184.215.14"],
            "mixed.example": ["93.184.215.14", "10.0.0.1"],
            "empty.example": [],
        }
    )
    assert await vetted_address(resolver, "good.example", 443, False) == "93.184.215.14"
    with pytest.raises(Refused, match=r"10\.0\.0\.1 is not a public address"):
        await vetted_address(resolver, "mixed.example", 443, False)
    with pytest.raises(Refused, match="did not resolve"):
        await vetted_address(resolver, "empty.example", 443, False)
    with pytest.raises(Refused, match="did not resolve"):
        await vetted_address(resolver, "unknown.example", 443, False)
    with pytest.raises(Refused, match=r"127\.0\.0\.1 is not"):
        await vetted_address(resolver, "127.0.0.1", 443, False)  # literals: no lookup
    assert await vetted_address(resolver, "mixed.example", 443, True) == "93.184.215.14"
    assert resolver.asked == [
        "good.example",
        "mixed.example",
        "empty.example",
        "unknown.example",
        "mixed.example",
    ]
