"""The developer portal's webhook form in production mode (``webhooks_allow_private``
off, this module's ``settings``): private, loopback and link-local targets are refused on
the URL field with their message id, and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Harness
from tests.web.portal_client import PortalClient, field_errors, portal_client
from widget_server.admin.access import Actor, Principal
from widget_server.seed import DEMO_ADMINS
from widget_server.settings import Settings
from widget_server.webhooks import manage

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")
OPERATOR = Actor(
    principal=Principal(
        id="operator",
        tenant_id="acme",
        pool_id=None,
        role="tenant_admin",
        kind="person",
        name="Operator",
    )
)


@pytest.fixture
def settings(migrated_database_url: str) -> Settings:
    return Settings(
        database_url=migrated_database_url,
        secret_key="test-secret-key",
        outbox_poll_seconds=0.05,
        public_url="http://localhost:8000",
        webhooks_allow_private=False,
    )


@pytest.fixture
async def dev(h: Harness) -> AsyncIterator[PortalClient]:
    client = PortalClient(h, portal_client(h))
    response = await client.client.post(
        "/developers/login", data={"email": DEVELOPER.email, "password": DEVELOPER.password}
    )
    assert response.status_code == 303
    await client.follow(response)
    yield client
    await client.client.aclose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:8080/in", ["webhook.url_https", "webhook.url_private"]),
        ("https://localhost/in", ["webhook.url_private"]),
        ("https://127.0.0.1/in", ["webhook.url_private"]),
        ("https://10.1.2.3/in", ["webhook.url_private"]),
        ("https://169.254.169.254/latest/meta-data", ["webhook.url_private"]),
        ("https://[::1]/in", ["webhook.url_private"]),
    ],
)
async def test_private_targets_are_refused_on_the_field(
    h: Harness, dev: PortalClient, url: str, expected: list[str]
) -> None:
    await dev.get("/developers/webhooks")
    refused = await dev.post("/developers/webhooks", {"owner": "pool:partner-1", "url": url})
    assert refused.status_code == 422
    assert field_errors(refused, "url") == expected
    assert await manage.list_endpoints(h.web.services, OPERATOR, pool_id="partner-1") == []


async def test_a_public_https_target_is_accepted(h: Harness, dev: PortalClient) -> None:
    await dev.get("/developers/webhooks")
    made = await dev.post(
        "/developers/webhooks",
        {"owner": "pool:partner-1", "url": "https://hooks.partner.example/in"},
    )
    assert made.status_code == 200 and "data-webhook-secret" in made.text
