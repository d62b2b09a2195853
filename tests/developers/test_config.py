"""Configuration as code: apps and webhook endpoints export to one JSON file (no secrets),
import with a dry-run plan first (by client id / owner + URL), new secrets shown once; a
round trip from a staging database to a production one; the portal, the API and the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.admin.keys import AdminClient, insert_key
from tests.conftest import Harness, rows
from tests.web.portal_client import PortalClient, message_ids, portal_client, seed_admins
from widget_server.cli import main
from widget_server.clock import ManualClock
from widget_server.mail.senders import MemorySender
from widget_server.models import App, AuditEvent
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import DEMO_ADMINS, seed_demo
from widget_server.settings import Settings
from widget_server.web.app import create_app
from widget_server.webhooks import manage
from widget_server.webhooks.manage import NewEndpoint

DEVELOPER = next(a for a in DEMO_ADMINS if a.role == "developer")
HOOK = "https://hooks.partner.example/widget"


@contextlib.asynccontextmanager
async def production(tmp_path: Path) -> AsyncIterator[Harness]:
    """A second installation: its own SQLite database and its own secret key."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'production.db'}",
        secret_key="production-secret-key",
        public_url="https://id.partner.example",
    )
    clock, sender = ManualClock(), MemorySender()
    app = create_app(settings, clock=clock, sender=sender, hasher=Argon2Hasher.fast_for_tests())
    for hook in app.on_startup:
        await hook()  # type: ignore[misc]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://prod.test") as client:
            await seed_demo(app.state.web.services.db, clock, ["https://shop.partner.example"])
            yield Harness(app, client, clock, sender, settings)
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[misc]


async def _staging_setup(operator: AdminClient) -> str:
    created = await operator.post(
        "/apps",
        json={
            "id": "partner-shop",
            "name": "Partner shop",
            "kind": "confidential",
            "pool_ids": ["partner-1"],
            "redirect_uris": ["https://shop.partner.example/callback"],
            "allowed_origins": ["https://shop.partner.example"],
            "scopes": ["email"],
        },
    )
    assert created.status_code == 201, created.text
    spa = await operator.post(
        "/apps",
        json={"id": "partner-spa", "name": "SPA", "kind": "public", "pool_ids": ["partner-1"]},
    )
    assert spa.status_code == 201, spa.text
    await manage.create_endpoint(
        operator.h.web.services,
        operator.actor,
        NewEndpoint(url=HOOK, pool_id="partner-1", event_types=["user.registered"]),
    )
    secret: str = created.json()["client_secret"]
    return secret


async def test_round_trip_from_staging_to_production(
    harness: Harness, operator: AdminClient, tmp_path: Path
) -> None:
    staging_secret = await _staging_setup(operator)
    exported = await operator.get("/developer-config")
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert document["format"] == "widget-server/developer-config" and document["version"] == 1
    assert [a["id"] for a in document["apps"]] == ["partner-shop", "partner-spa"]
    assert [(e["url"], e["pool_id"]) for e in document["webhook_endpoints"]] == [
        (HOOK, "partner-1")
    ]
    assert staging_secret not in exported.text and "whsec_" not in exported.text
    assert "secret" not in json.dumps(document).replace("client_secret_basic", "")

    async with production(tmp_path) as prod:
        prod_operator = await insert_key(prod, "tenant_admin")
        planned = await prod_operator.post("/developer-config/plan", json=document)
        assert planned.status_code == 200, planned.text
        assert [(c["kind"], c["key"], c["action"]) for c in planned.json()["changes"]] == [
            ("app", "partner-shop", "create"),
            ("app", "partner-spa", "create"),
            ("webhook_endpoint", f"pool:partner-1 {HOOK}", "create"),
        ]
        assert await rows(prod, App) == []  # a plan changes nothing

        applied = await prod_operator.post("/developer-config/apply", json=document)
        assert applied.status_code == 200, applied.text
        body = applied.json()
        assert set(body["client_secrets"]) == {"partner-shop"}  # public apps have none
        assert body["client_secrets"]["partner-shop"] != staging_secret
        assert list(body["webhook_secrets"]) == [f"pool:partner-1 {HOOK}"]
        assert body["webhook_secrets"][f"pool:partner-1 {HOOK}"].startswith("whsec_")

        # Production now exports the same file, and importing it again changes nothing.
        again = (await prod_operator.get("/developer-config")).json()
        assert again == document
        replan = await prod_operator.post("/developer-config/plan", json=document)
        assert {c["action"] for c in replan.json()["changes"]} == {"unchanged"}
        audit = [e.action for e in await rows(prod, AuditEvent) if e.outcome == "ok"]
        assert audit.count("app.create") == 2 and "webhook.create" in audit

        # A change in staging travels as an update of the fields that differ.
        document["apps"][0]["allowed_origins"].append("https://www.partner.example")
        document["webhook_endpoints"][0]["enabled"] = False
        update = await prod_operator.post("/developer-config/apply", json=document)
        changes = {(c["key"], c["action"], tuple(c["fields"])) for c in update.json()["changes"]}
        assert ("partner-shop", "update", ("allowed_origins",)) in changes
        assert (f"pool:partner-1 {HOOK}", "update", ("enabled",)) in changes
        assert update.json()["client_secrets"] == {}  # an update never makes a secret


async def test_bad_files_are_refused_with_a_reason(harness: Harness, operator: AdminClient) -> None:
    twice = {
        "apps": [
            {"id": "a-app", "name": "A", "kind": "public", "pool_ids": ["partner-1"]},
            {"id": "a-app", "name": "A", "kind": "public", "pool_ids": ["partner-1"]},
        ]
    }
    refused = await operator.post("/developer-config/plan", json=twice)
    assert refused.status_code == 422 and "config.invalid" in refused.text
    unknown = await operator.post("/developer-config/plan", json={"apps": [], "secrets": {}})
    assert unknown.status_code in (400, 422)
    bad_pool = {"apps": [{"id": "b-app", "name": "B", "kind": "public", "pool_ids": ["nope"]}]}
    applied = await operator.post("/developer-config/apply", json=bad_pool)
    assert applied.status_code == 422 and "app.pool_unknown" in applied.text
    await operator.post(
        "/apps", json={"id": "c-app", "name": "C", "kind": "public", "pool_ids": ["partner-1"]}
    )
    kind = {
        "apps": [{"id": "c-app", "name": "C", "kind": "confidential", "pool_ids": ["partner-1"]}]
    }
    changed = await operator.post("/developer-config/plan", json=kind)
    assert changed.status_code == 422 and "config.kind_changed" in changed.text


async def _developer(h: Harness) -> PortalClient:
    await seed_admins(h)
    client = PortalClient(h, portal_client(h))
    response = await client.client.post(
        "/developers/login", data={"email": DEVELOPER.email, "password": DEVELOPER.password}
    )
    assert response.status_code == 303
    await client.get("/developers/config")
    return client


async def test_the_developer_imports_in_the_portal_within_its_scope(harness: Harness) -> None:
    dev = await _developer(harness)
    try:
        empty = await dev.client.get("/developers/config/export")
        assert empty.status_code == 200
        assert "attachment" in empty.headers["content-disposition"]
        assert empty.json()["apps"] == []
        wanted: dict[str, Any] = {
            "format": "widget-server/developer-config",
            "version": 1,
            "apps": [
                {
                    "id": "dev-shop",
                    "name": "Dev shop",
                    "kind": "confidential",
                    "pool_ids": ["partner-1"],
                    "allowed_origins": ["https://dev.partner.example"],
                }
            ],
        }
        plan = await dev.post("/developers/config/plan", {"file": json.dumps(wanted)})
        assert plan.status_code == 200 and 'data-action="create"' in plan.text
        assert await rows(harness, App) == []
        applied = await dev.post("/developers/config/apply", {"file": json.dumps(wanted)})
        assert applied.status_code == 200, applied.text[:500]
        assert 'data-client-secret="dev-shop"' in applied.text
        exported = (await dev.client.get("/developers/config/export")).json()
        assert [a["id"] for a in exported["apps"]] == ["dev-shop"]
        # Another pool is outside the developer's scope: refused like a missing pool.
        outside = dict(wanted, apps=[dict(wanted["apps"][0], id="x-shop", pool_ids=["business-1"])])
        refused = await dev.post("/developers/config/apply", {"file": json.dumps(outside)})
        assert refused.status_code == 422 and "app.pool_unknown" in message_ids(refused)
        broken = await dev.post("/developers/config/plan", {"file": "{not json"})
        assert broken.status_code == 422 and "config.invalid" in message_ids(broken)
    finally:
        await dev.client.aclose()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [n for n in os.environ if n.startswith("WIDGET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIDGET_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("WIDGET_SECRET_KEY", "cli-secret-key")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_cli_plans_then_applies_and_exports(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    main(["seed-demo", "--create"])
    file = cli_env / "config.json"
    file.write_text(
        json.dumps(
            {
                "apps": [
                    {
                        "id": "cli-app",
                        "name": "CLI",
                        "kind": "confidential",
                        "pool_ids": ["partner-1"],
                    }
                ]
            }
        )
    )
    capsys.readouterr()
    main(["dev-config", "import", str(file)])
    out = capsys.readouterr().out
    assert "create" in out and "cli-app" in out and "--apply" in out
    main(["dev-config", "import", str(file), "--apply"])
    out = capsys.readouterr().out
    assert "client secret of cli-app (shown once): " in out
    secret = out.split("(shown once): ")[1].split()[0]
    main(["dev-config", "export"])
    exported = capsys.readouterr().out
    assert json.loads(exported)["apps"][0]["id"] == "cli-app" and secret not in exported
    main(["dev-config", "import", str(file)])
    assert "0 change(s)" in capsys.readouterr().out
