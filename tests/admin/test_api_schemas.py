"""The admin API on schemas: built-ins are read-only, custom ones are checked first."""

from __future__ import annotations

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness, rows
from widget_server.models import IdentitySchema

PAYLOAD = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "x-identifier": True},
        "nickname": {"type": "string", "maxLength": 40, "pattern": "^[a-z0-9_]+$"},
    },
    "required": ["email"],
}
METADATA = {
    "type": "object",
    "properties": {"roles": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": False,
}


def ids(response: object) -> list[str]:
    return [e["id"] for e in response.json()["errors"]]  # type: ignore[attr-defined]


async def test_builtins_are_listed_and_read_only(operator: AdminClient) -> None:
    listed = {s["id"]: s for s in (await operator.get("/schemas")).json()}
    for builtin in ("consumer-basic", "builtin-ecommerce", "builtin-banking", "builtin-metadata"):
        assert listed[builtin]["builtin"] is True
    assert "partner-1" in listed["consumer-basic"]["used_by"]
    changed = await operator.patch("/schemas/builtin-ecommerce", json={"name": "Mine now"})
    assert changed.status_code == 409
    assert ids(changed) == ["admin.schema_builtin"]
    assert (await operator.delete("/schemas/consumer-basic")).status_code == 409
    assert (await operator.get("/schemas/builtin-ecommerce")).json()["name"] != "Mine now"


async def test_custom_schemas_are_created_used_changed_and_deleted(
    operator: AdminClient, harness: Harness
) -> None:
    payload = await operator.post(
        "/schemas", json={"id": "club", "name": "Club", "kind": "payload", "body": PAYLOAD}
    )
    assert payload.status_code == 201, payload.text
    metadata = await operator.post(
        "/schemas", json={"name": "Roles", "kind": "metadata", "body": METADATA}
    )
    assert metadata.status_code == 201, metadata.text
    meta_id = metadata.json()["id"]
    wrong_kind = await operator.patch("/pools/partner-1", json={"metadata_schema_id": "club"})
    assert wrong_kind.status_code == 422
    assert ids(wrong_kind) == ["admin.schema_kind"]
    assigned = await operator.patch(
        "/pools/partner-1", json={"payload_schema_id": "club", "metadata_schema_id": meta_id}
    )
    assert assigned.status_code == 200, assigned.text
    form = await harness.client.get("/embed/partner-1/register")
    assert 'name="nickname"' in form.text
    renamed = await operator.patch("/schemas/club", json={"name": "Club members"})
    assert renamed.json()["name"] == "Club members"
    assert renamed.json()["used_by"] == ["partner-1"]
    assert (await operator.delete("/schemas/club")).status_code == 409
    await operator.patch("/pools/partner-1", json={"payload_schema_id": "consumer-basic"})
    assert (await operator.delete("/schemas/club")).status_code == 204
    assert (await operator.get("/schemas/club")).status_code == 404


async def test_dangerous_schemas_are_refused_and_nothing_is_stored(
    operator: AdminClient, harness: Harness
) -> None:
    before = len(await rows(harness, IdentitySchema))
    remote = PAYLOAD | {
        "properties": PAYLOAD["properties"] | {"x": {"$ref": "https://evil.example/s.json"}}
    }
    backreference = PAYLOAD | {
        "properties": PAYLOAD["properties"] | {"x": {"type": "string", "pattern": r"^(a)\1$"}}
    }
    invalid = PAYLOAD | {"type": "objekt"}
    no_identifier = {"type": "object", "properties": {"name": {"type": "string"}}}
    for body, kind in (
        (remote, "payload"),
        (backreference, "payload"),
        (invalid, "payload"),
        (no_identifier, "payload"),
        (
            {"type": "object", "properties": {"n": {"type": "string", "pattern": "(?=x)y"}}},
            "metadata",
        ),
    ):
        response = await operator.post("/schemas", json={"name": "Bad", "kind": kind, "body": body})
        assert response.status_code == 422, (body, response.text)
        assert all(e["field"] == "body" for e in response.json()["errors"])
    assert len(await rows(harness, IdentitySchema)) == before


async def test_pool_roles_read_schemas_but_cannot_write_them(make_key: MakeKey) -> None:
    lead = await make_key("pool_admin", "business-1")
    assert (await lead.get("/schemas")).status_code == 200
    created = await lead.post("/schemas", json={"name": "X", "kind": "metadata", "body": METADATA})
    assert created.status_code == 403


async def test_builtin_ids_are_reserved(operator: AdminClient) -> None:
    body = {"id": "builtin-mine", "name": "Mine", "kind": "metadata", "body": METADATA}
    response = await operator.post("/schemas", json=body)
    assert response.status_code == 422
    assert ids(response) == ["admin.id_reserved"]
