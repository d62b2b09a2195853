"""The first steps on a fresh install, run as a newcomer would: the real CLI, a new SQLite
file, a tenant, a tenant admin, a pool from a template, an API key that then works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from widget_server.settings import Settings
from widget_server.web.app import create_app


def cli(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env["WIDGET_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    env["WIDGET_SECRET_KEY"] = "cli-test-key"
    return subprocess.run(
        [sys.executable, "-m", "widget_server.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


async def test_fresh_install_first_steps(tmp_path: Path) -> None:
    # A fresh install: the first command says to set the database up (tests/test_cli_safety.py).
    created = cli(tmp_path, "create-tenant", "--id", "acme", "--name", "ACME", "--create")
    assert created.returncode == 0, created.stderr
    admin = cli(
        tmp_path,
        *("create-admin", "--tenant", "acme", "--email", "Op@Example.com"),
        *("--name", "Olga", "--password-stdin"),
        stdin="correct horse battery staple\n",
    )
    assert admin.returncode == 0, admin.stderr
    assert "op@example.com (tenant_admin)" in admin.stdout
    weak = cli(
        tmp_path,
        *("create-admin", "--tenant", "acme", "--email", "two@example.com"),
        *("--name", "Two", "--password-stdin"),
        stdin="short\n",
    )
    assert weak.returncode != 0 and "refused" in weak.stderr
    pool = cli(
        tmp_path,
        *("create-pool", "--tenant", "acme", "--id", "shop", "--name", "Shop"),
        *("--template", "ecommerce", "--origin", "https://shop.example"),
    )
    assert pool.returncode == 0, pool.stderr
    assert '"payload_schema_id": "builtin-ecommerce"' in pool.stdout
    issued = cli(
        tmp_path,
        *("issue-api-key", "--tenant", "acme", "--name", "ci"),
        *("--role", "pool_admin", "--pool", "shop"),
    )
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1]
    assert key.startswith("wsk_")
    no_tenant = cli(
        tmp_path,
        "create-pool",
        "--tenant",
        "nope",
        "--id",
        "x1",
        "--name",
        "X",
        "--template",
        "ecommerce",
    )
    assert no_tenant.returncode != 0 and "create-tenant" in no_tenant.stderr

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", secret_key="cli-test-key"
    )
    app = create_app(settings)
    for hook in app.on_startup:
        await hook()  # type: ignore[call-arg]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            me = await client.get("/api/admin/me", headers={"Authorization": f"Bearer {key}"})
            assert me.json()["pool_id"] == "shop"
            log = await client.get(
                "/api/admin/pools/shop/audit", headers={"Authorization": f"Bearer {key}"}
            )
            actions = [e["action"] for e in log.json()]
            assert "pool.create" in actions and "admin.create" in actions
            assert all(e["actor_name"].startswith("cli:") for e in log.json())
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[call-arg]


async def test_a_developer_key_for_two_pools(tmp_path: Path) -> None:
    """``--pool`` repeats for a developer; another role with two pools is refused."""
    assert cli(tmp_path, "create-tenant", "--id", "acme", "--name", "A", "--create").returncode == 0
    for pool_id in ("shop", "club", "bank"):
        made = cli(
            tmp_path,
            *("create-pool", "--tenant", "acme", "--id", pool_id, "--name", pool_id),
            *("--template", "ecommerce"),
        )
        assert made.returncode == 0, made.stderr
    issued = cli(
        tmp_path,
        *("issue-api-key", "--tenant", "acme", "--name", "dev"),
        *("--role", "developer", "--pool", "shop", "--pool", "club"),
    )
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1]
    two = cli(
        tmp_path,
        *("issue-api-key", "--tenant", "acme", "--name", "lead"),
        *("--role", "pool_admin", "--pool", "shop", "--pool", "club"),
    )
    assert two.returncode != 0 and "pool_ids" in two.stderr

    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", secret_key="cli-test-key"
    )
    app = create_app(settings)
    for hook in app.on_startup:
        await hook()  # type: ignore[call-arg]
    try:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            pools = await client.get("/api/admin/pools", headers=headers)
            assert sorted(p["id"] for p in pools.json()) == ["club", "shop"]
            bank = await client.get("/api/admin/pools/bank", headers=headers)
            assert bank.status_code == 404
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[call-arg]
