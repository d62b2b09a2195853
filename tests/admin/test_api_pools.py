"""The admin API on pools: create, read, change, delete; scope, roles, errors, audit."""

from __future__ import annotations

from sqlalchemy import select

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness, rows
from widget_server.models import AuditEvent, Pool

NEW_POOL = {"id": "partner-3", "name": "Partner 3", "payload_schema_id": "consumer-basic"}


def error_ids(response: object) -> dict[str | None, list[str]]:
    body = response.json()  # type: ignore[attr-defined]
    found: dict[str | None, list[str]] = {}
    for item in body["errors"]:
        found.setdefault(item["field"], []).append(item["id"])
    return found


async def test_operator_creates_reads_and_lists_a_pool(operator: AdminClient) -> None:
    created = await operator.post(
        "/pools", json=NEW_POOL | {"allowed_origins": ["https://shop.example"]}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == "partner-3"
    assert body["allowed_origins"] == ["https://shop.example"]
    assert body["activation_methods"] == ["email"]
    assert body["users"] == {}
    assert (await operator.get("/pools/partner-3")).json()["name"] == "Partner 3"
    listed = [p["id"] for p in (await operator.get("/pools")).json()]
    assert {"partner-1", "partner-2", "business-1", "employees", "partner-3"} <= set(listed)


async def test_new_pool_serves_its_widget(operator: AdminClient, harness: Harness) -> None:
    await operator.post("/pools", json=NEW_POOL)
    page = await harness.client.get("/embed/partner-3/register")
    assert page.status_code == 200
    assert 'name="email"' in page.text


async def test_every_bad_setting_is_reported_by_field_and_nothing_is_stored(
    operator: AdminClient, harness: Harness
) -> None:
    response = await operator.post(
        "/pools",
        json={
            "id": "Bad Id!",
            "name": "x",
            "payload_schema_id": "no-such-schema",
            "allowed_origins": ["https://ok.example", "https://evil.example/path", "*"],
            "email_domains": ["not a domain"],
            "password_policy": {"min_length": 3, "max_length": 2},
            "activation_methods": ["pigeon"],
            "theme": {"colors": {"primary": "url(javascript:alert(1))"}},
        },
    )
    assert response.status_code == 422
    ids = error_ids(response)
    assert ids["id"] == ["admin.invalid_pool_id"]
    assert ids["payload_schema_id"] == ["admin.unknown_schema"]
    assert ids["allowed_origins"] == ["admin.invalid_origin", "admin.invalid_origin"]
    assert ids["email_domains"] == ["admin.invalid_domain"]
    assert ids["password_policy"] == ["admin.invalid_value"]
    assert ids["activation_methods"] == ["admin.invalid_methods"]
    assert ids["theme"] == ["admin.invalid_value"]
    assert "Bad Id!" not in {p.id for p in await rows(harness, Pool)}


async def test_malformed_bodies_get_400_with_the_field(operator: AdminClient) -> None:
    unknown = await operator.post("/pools", json=NEW_POOL | {"owner": "me"})
    assert unknown.status_code == 400
    assert error_ids(unknown) and all(
        i == ["admin.invalid_body"] for i in error_ids(unknown).values()
    )
    wrong_type = await operator.post("/pools", json=NEW_POOL | {"self_registration": "yes"})
    assert wrong_type.status_code == 400
    not_json = await operator.call(
        "POST", "/pools", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400


async def test_duplicate_id_is_refused_and_the_first_pool_kept(operator: AdminClient) -> None:
    await operator.post("/pools", json=NEW_POOL)
    again = await operator.post("/pools", json=NEW_POOL | {"name": "Impostor"})
    assert again.status_code == 422
    assert error_ids(again) == {"id": ["admin.id_taken"]}
    assert (await operator.get("/pools/partner-3")).json()["name"] == "Partner 3"


async def test_keys_missing_unknown_forged_or_revoked_get_401(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    assert (await harness.client.get("/api/admin/pools")).status_code == 401
    for header in ("Bearer nope", "Basic abc", f"Bearer {operator.key}x", "Bearer wsk_.", ""):
        response = await harness.client.get("/api/admin/pools", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert error_ids(response) == {None: ["admin.unauthenticated"]}
    other = await make_key("pool_admin", "partner-1")
    assert (await operator.post(f"/admins/{other.principal.id}/revoke")).status_code == 200
    assert (await other.get("/pools")).status_code == 401


async def test_pool_admin_sees_only_its_pool_and_cannot_change_settings(
    harness: Harness, make_key: MakeKey
) -> None:
    lead = await make_key("pool_admin", "business-1")
    assert [p["id"] for p in (await lead.get("/pools")).json()] == ["business-1"]
    assert (await lead.get("/pools/business-1")).status_code == 200
    for path in ("/pools/partner-1", "/pools/no-such-pool"):
        response = await lead.get(path)
        assert response.status_code == 404
        assert error_ids(response) == {None: ["admin.not_found"]}
    assert (await lead.patch("/pools/business-1", json={"name": "Mine"})).status_code == 403
    assert (await lead.post("/pools", json=NEW_POOL)).status_code == 403
    assert (await lead.delete("/pools/business-1")).status_code == 403
    async with harness.web.services.db.read() as session:
        denied = (
            (await session.execute(select(AuditEvent).where(AuditEvent.outcome == "denied")))
            .scalars()
            .all()
        )
    assert {(e.action, e.target_id) for e in denied} >= {
        ("pools.read", "partner-1"),
        ("pools.write", "business-1"),
    }
    assert all(e.actor_id == lead.principal.id for e in denied)


async def test_changing_settings_bumps_the_version_and_is_audited(
    operator: AdminClient, harness: Harness
) -> None:
    before = (await operator.get("/pools/partner-1")).json()
    changed = await operator.patch(
        "/pools/partner-1",
        json={"self_registration": False, "password_policy": {"min_length": 10}},
    )
    assert changed.status_code == 200, changed.text
    pool = changed.json()["pool"]
    assert pool["version"] == before["version"] + 1
    assert pool["self_registration"] is False
    assert changed.json()["invalid_users"] is None
    closed = await harness.client.get("/embed/partner-1/register")
    assert closed.status_code == 403
    log = (await operator.get("/pools/partner-1/audit")).json()
    assert log[0]["action"] == "pool.update"
    assert log[0]["details"]["fields"] == ["password_policy", "self_registration"]
    assert log[0]["actor_id"] == operator.principal.id


async def test_delete_refuses_a_pool_with_users_and_removes_an_empty_one(
    operator: AdminClient, harness: Harness
) -> None:
    await operator.post("/pools", json=NEW_POOL)
    assert (await operator.delete("/pools/partner-3")).status_code == 204
    assert (await operator.get("/pools/partner-3")).status_code == 404
    assert (await harness.client.get("/embed/partner-3/register")).status_code == 404


async def test_a_pool_needs_a_name_and_a_schema_unless_a_template_gives_them(
    operator: AdminClient,
) -> None:
    response = await operator.post("/pools", json={"id": "00"})
    assert response.status_code == 422
    assert error_ids(response) == {
        "name": ["form.required"],
        "payload_schema_id": ["form.required"],
    }


async def test_pools_from_each_sector_template(operator: AdminClient, harness: Harness) -> None:
    listed = {t["id"]: t for t in (await operator.get("/templates")).json()}
    assert {"ecommerce", "banking", "b2b-employees"} <= set(listed)
    shop = await operator.post(
        "/pools", json={"id": "shop", "name": "Shop", "template": "ecommerce"}
    )
    assert shop.status_code == 201, shop.text
    assert shop.json()["self_registration"] is True
    bank = await operator.post("/pools", json={"id": "bank", "name": "Bank", "template": "banking"})
    assert bank.json()["activation_methods"] == ["phone", "email"]
    assert bank.json()["password_policy"]["min_length"] >= 12
    staff = await operator.post(
        "/pools",
        json={
            "id": "staff",
            "name": "Staff",
            "template": "b2b-employees",
            "email_domains": ["Example.COM"],
        },
    )
    assert staff.status_code == 201, staff.text
    assert staff.json()["self_registration"] is False
    assert staff.json()["email_domains"] == ["example.com"]
    assert staff.json()["metadata_schema_id"] == listed["b2b-employees"]["metadata_schema_id"]
    # Each pool's widget draws its template's form (or says sign-up is closed).
    assert (await harness.client.get("/embed/shop/register")).status_code == 200
    banking_form = await harness.client.get("/embed/bank/register")
    assert banking_form.status_code == 200
    assert (await harness.client.get("/embed/staff/register")).status_code == 403
    unknown = await operator.post("/pools", json={"id": "x1", "name": "X", "template": "casino"})
    assert error_ids(unknown)["template"] == ["admin.unknown_template"]


async def test_schema_change_reports_the_users_who_no_longer_validate(
    operator: AdminClient,
) -> None:
    strict = {
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email", "x-identifier": True},
            "member_number": {"type": "string", "minLength": 3},
        },
        "required": ["email", "member_number"],
    }
    created = await operator.post(
        "/schemas", json={"id": "strict", "name": "Strict", "kind": "payload", "body": strict}
    )
    assert created.status_code == 201, created.text
    for n in range(3):
        user = await operator.post(
            "/pools/partner-1/users", json={"email": f"u{n}@example.com", "status": "new"}
        )
        assert user.status_code == 201, user.text
    dry = await operator.get("/pools/partner-1/schema-impact", params={"schema_id": "strict"})
    assert dry.json() == {"invalid_users": 3}
    changed = await operator.patch("/pools/partner-1", json={"payload_schema_id": "strict"})
    assert changed.json()["invalid_users"] == 3
    assert changed.json()["pool"]["payload_schema_id"] == "strict"
    in_use = await operator.delete("/schemas/strict")
    assert in_use.status_code == 409
    assert error_ids(in_use) == {None: ["admin.schema_in_use"]}


async def test_huge_bodies_are_refused_before_parsing(operator: AdminClient) -> None:
    huge = NEW_POOL | {"theme": {"copy": {f"k{n}": "x" * 1000 for n in range(100)}}}
    response = await operator.post("/pools", json=huge)
    assert response.status_code == 413
    assert response.json()["status"] == 413
    assert (await operator.get("/pools/partner-3")).status_code == 404


async def test_login_settings_mfa_sessions_and_phone_regions(operator: AdminClient) -> None:
    changed = await operator.patch(
        "/pools/partner-1",
        json={"mfa": "required", "session_idle_seconds": 900, "phone_regions": ["DE", "AT"]},
    )
    assert changed.status_code == 200, changed.text
    pool = changed.json()["pool"]
    assert (pool["mfa"], pool["session_idle_seconds"], pool["phone_regions"]) == (
        "required",
        900,
        ["AT", "DE"],
    )
    for bad in ({"mfa": "sometimes"}, {"phone_regions": ["Germany"]}, {"session_idle_seconds": 5}):
        assert (await operator.patch("/pools/partner-1", json=bad)).status_code == 400, bad
