"""The admin API on apps (OAuth clients): register, read, change, rotate, revoke; strict
redirect URIs and origins, pools of the tenant only, secrets shown once, audit, roles."""

from __future__ import annotations

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness, rows
from widget_server.models import App, AuditEvent, Tenant
from widget_server.oidc.clients import client_secret_hash as secret_hash

NEW_APP = {
    "id": "shop",
    "name": "Shop",
    "kind": "confidential",
    "pool_ids": ["partner-1"],
    "redirect_uris": ["https://shop.example/callback"],
    "allowed_origins": ["https://shop.example"],
    "scopes": ["email", "roles"],
}


def error_ids(response: object) -> dict[str | None, list[str]]:
    body = response.json()  # type: ignore[attr-defined]
    found: dict[str | None, list[str]] = {}
    for item in body["errors"]:
        found.setdefault(item["field"], []).append(item["id"])
    return found


async def test_confidential_app_secret_is_shown_once_and_stored_hashed(
    operator: AdminClient, harness: Harness
) -> None:
    created = await operator.post("/apps", json=NEW_APP)
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["client_secret"]
    assert len(secret) >= 43
    assert body["app"]["has_secret"] is True
    assert body["app"]["scopes"] == ["email", "roles"]
    (row,) = await rows(harness, App)
    assert row.secret_hash == secret_hash(harness.settings.secret_key, "shop", secret)
    assert secret not in (await operator.get("/apps/shop")).text
    assert "client_secret" not in (await operator.get("/apps/shop")).json()
    assert [a["id"] for a in (await operator.get("/apps")).json()] == ["shop"]


async def test_public_app_has_no_secret_and_cannot_rotate_one(operator: AdminClient) -> None:
    created = await operator.post("/apps", json=NEW_APP | {"kind": "public", "id": "spa"})
    assert created.status_code == 201
    assert created.json()["client_secret"] is None
    assert created.json()["app"]["has_secret"] is False
    rotated = await operator.post("/apps/spa/rotate-secret")
    assert rotated.status_code == 409
    assert error_ids(rotated) == {None: ["app.public_no_secret"]}


async def test_generated_client_id(operator: AdminClient) -> None:
    created = await operator.post("/apps", json={k: v for k, v in NEW_APP.items() if k != "id"})
    assert created.status_code == 201
    assert created.json()["app"]["id"].startswith("app-")


async def test_rotation_replaces_the_secret(operator: AdminClient, harness: Harness) -> None:
    first = (await operator.post("/apps", json=NEW_APP)).json()["client_secret"]
    rotated = await operator.post("/apps/shop/rotate-secret")
    assert rotated.status_code == 200
    second = rotated.json()["client_secret"]
    assert second != first
    (row,) = await rows(harness, App)
    assert row.secret_hash == secret_hash(harness.settings.secret_key, "shop", second)


async def test_bad_settings_are_reported_by_field_and_nothing_is_stored(
    operator: AdminClient, harness: Harness
) -> None:
    bad_uris = [
        "http://shop.example/cb",  # http off loopback
        "https://shop.example/cb#frag",
        "https://user@shop.example/cb",
        "https://Shop.Example/cb",
        "https://shop.example./cb",
        "https://shop.example/a/../cb",
        "https://shop.example/a/%2e%2e/cb",
        "/relative/cb",
        "javascript:alert(1)",
        "https://shop.example/c b",
        "https://shop.example\\@evil.example/",
        "ftp://shop.example/cb",
    ]
    response = await operator.post(
        "/apps",
        json=NEW_APP
        | {
            "redirect_uris": bad_uris,
            "allowed_origins": ["https://shop.example/path", "*"],
            "pool_ids": ["partner-1", "no-such-pool"],
            "scopes": ["email", "admin"],
        },
    )
    assert response.status_code == 422
    errors = error_ids(response)
    assert errors["redirect_uris"] == ["app.redirect_uri_invalid"] * len(bad_uris)
    assert errors["allowed_origins"] == ["admin.invalid_origin"] * 2
    assert errors["pool_ids"] == ["app.pool_unknown"]
    assert errors["scopes"] == ["app.scope_unknown"]
    assert await rows(harness, App) == []


async def test_loopback_http_redirects_are_allowed(operator: AdminClient) -> None:
    uris = ["http://localhost:8001/cb", "http://127.0.0.1/cb?x=1", "https://shop.example/cb"]
    created = await operator.post("/apps", json=NEW_APP | {"redirect_uris": uris})
    assert created.status_code == 201, created.text
    assert created.json()["app"]["redirect_uris"] == sorted(uris)


async def test_app_needs_a_pool(operator: AdminClient) -> None:
    response = await operator.post("/apps", json=NEW_APP | {"pool_ids": []})
    assert error_ids(response) == {"pool_ids": ["app.needs_pool"]}


async def test_another_tenants_pool_reads_as_unknown(
    operator: AdminClient, harness: Harness, make_key: MakeKey
) -> None:
    async with harness.web.services.db.write() as session:
        session.add(Tenant(id="globex", name="Globex", theme={}, created_at=harness.clock.now()))
    other = await make_key("tenant_admin", tenant_id="globex")
    response = await other.post("/apps", json=NEW_APP)
    assert response.status_code == 422
    assert error_ids(response) == {"pool_ids": ["app.pool_unknown"]}
    await operator.post("/apps", json=NEW_APP)
    assert (await other.get("/apps/shop")).status_code == 404
    assert (await other.get("/apps")).json() == []


async def test_patch_and_revoke(operator: AdminClient, harness: Harness) -> None:
    await operator.post("/apps", json=NEW_APP)
    patched = await operator.patch(
        "/apps/shop",
        json={"name": "Shop 2", "redirect_uris": ["https://shop.example/cb2"], "scopes": []},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["redirect_uris"] == ["https://shop.example/cb2"]
    assert patched.json()["scopes"] == []
    assert patched.json()["allowed_origins"] == ["https://shop.example"]
    bad = await operator.patch("/apps/shop", json={"redirect_uris": ["http://evil.example/"]})
    assert bad.status_code == 422
    assert (await operator.get("/apps/shop")).json()["redirect_uris"] == [
        "https://shop.example/cb2"
    ]
    revoked = await operator.post("/apps/shop/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    after = await operator.patch("/apps/shop", json={"name": "x"})
    assert after.status_code == 409
    assert error_ids(after) == {None: ["app.revoked"]}
    actions = [e.action for e in await rows(harness, AuditEvent) if e.target_type == "app"]
    assert actions == ["app.create", "app.update", "app.revoke"]


async def test_pool_admins_cannot_see_or_manage_apps(
    operator: AdminClient, make_key: MakeKey, harness: Harness
) -> None:
    await operator.post("/apps", json=NEW_APP)
    pool_admin = await make_key("pool_admin", pool_id="partner-1")
    assert (await pool_admin.get("/apps")).status_code == 403
    assert (await pool_admin.post("/apps", json=NEW_APP | {"id": "x2"})).status_code == 403
    assert (await pool_admin.post("/apps/shop/rotate-secret")).status_code == 403
    denied = [e for e in await rows(harness, AuditEvent) if e.outcome == "denied"]
    assert len(denied) == 3


async def test_unknown_fields_and_duplicate_ids(operator: AdminClient) -> None:
    unknown = await operator.post("/apps", json=NEW_APP | {"secret_hash": "x"})
    assert unknown.status_code == 400
    assert (await operator.post("/apps", json=NEW_APP)).status_code == 201
    again = await operator.post("/apps", json=NEW_APP)
    assert again.status_code == 422
    assert error_ids(again) == {"id": ["admin.id_taken"]}
