"""Schemathesis against the admin API's own OpenAPI document, on a real HTTP server.

Bounded: a fixed number of generated examples per operation. Checks: no 5xx, every status
documented, every response body matching its documented schema, the documented content
type. Runs on SQLite always and on PostgreSQL where the suite has it (PostgreSQL enforces
column lengths that SQLite ignores, which is where over-long input turns into 500s).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import POSTGRES_URL, require_postgres, reset_postgres
from widget_server import migrate, secrets_
from widget_server.admin.access import new_api_key
from widget_server.clock import SystemClock
from widget_server.db import Database
from widget_server.mail.senders import MemorySender
from widget_server.models import AdminPrincipal
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import seed_demo
from widget_server.settings import Settings
from widget_server.web.app import create_app

EXAMPLES_PER_OPERATION = 20
SERVER: dict[str, Any] = {}


async def _prepare(url: str, secret_key: str) -> str:
    """Migrate, seed the demo tenant and return a tenant admin's API key."""
    if url.startswith("postgresql"):
        await require_postgres()
        await reset_postgres()
    db = Database(url)
    await migrate.upgrade(db)
    await seed_demo(db, SystemClock(), ["http://127.0.0.1:8001"])
    principal_id = secrets_.new_id()
    key, secret_hash = new_api_key(secret_key, principal_id)
    async with db.write() as session:
        session.add(
            AdminPrincipal(
                id=principal_id,
                tenant_id="acme",
                pool_id=None,
                kind="api_key",
                role="tenant_admin",
                name="schemathesis",
                email=None,
                secret_hash=secret_hash,
                created_by=None,
                created_at=SystemClock().now(),
                last_used_at=None,
                revoked_at=None,
            )
        )
    await db.dispose()
    return key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url = (
        POSTGRES_URL
        if request.param == "postgres"
        else f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('st') / 'widget.db'}"
    )
    config = Settings(database_url=url, secret_key="schemathesis-key", outbox_poll_seconds=0.2)
    SERVER["key"] = asyncio.run(_prepare(url, config.secret_key))
    app = create_app(config, sender=MemorySender(), hasher=Argon2Hasher.fast_for_tests())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    SERVER["base"] = base
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_admin_api_matches_its_openapi_document(api_server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api_server}/api/admin/openapi.json")
    headers = {"Authorization": f"Bearer {SERVER['key']}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        response_schema_conformance,
        content_type_conformance,
    ]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            case.call_and_validate(base_url=api_server, headers=headers, checks=checks)

        check()
        tested.append(operation.label)
    assert len(tested) >= 25, tested


NEGATIVE_EXAMPLES_PER_OPERATION = 15


def test_malformed_bodies_on_every_json_endpoint_are_4xx(api_server: str) -> None:
    """Negative generation: bodies that break their schema (wrong types, missing and
    unknown fields, out-of-range values) on every operation that takes a JSON body. Each
    gets a documented 4xx in the documented shape, never a 5xx."""
    schema = schemathesis.openapi.from_url(f"{api_server}/api/admin/openapi.json")
    headers = {"Authorization": f"Bearer {SERVER['key']}"}
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.body:
            continue

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=NEGATIVE_EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(base_url=api_server, headers=headers, checks=checks)
            assert response.status_code < 500

        check()
        tested.append(operation.label)
    assert len(tested) >= 8, tested
