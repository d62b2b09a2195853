"""Every admin endpoint, walked with keys that must not reach the target.

The routes come from the app itself, so an endpoint added later is walked too: a key
scoped to another pool gets 404 on every pool-addressed endpoint (no existence leak) and
each attempt is audited as denied; pool roles get 403 on tenant-level writes.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness
from widget_server.models import AuditEvent

PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
TENANT_ONLY_WRITES = {"/pools", "/schemas", "/admins"}


def admin_routes(h: Harness) -> list[tuple[str, str]]:
    """(method, path) of every operation in the admin API's OpenAPI document."""
    found = []
    for path, item in (h.app.openapi_schema.paths or {}).items():
        for method in ("get", "post", "patch", "put", "delete"):
            if getattr(item, method, None) is not None:
                found.append((method.upper(), path.removeprefix("/api/admin")))
    return found


async def a_user_of(operator: AdminClient, pool_id: str) -> str:
    created = await operator.post(
        f"/pools/{pool_id}/users",
        json={
            "email": f"member@{pool_id}.example",
            "status": "new",
            "payload": {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "company": "ACME",
                "job_title": "Engineer",
                "country": "DE",
                "date_of_birth": "1990-01-01",
                "terms": True,
            },
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


#: Integer path parameters need an integer, or the router answers 404 before any check.
NUMBERS = {"number": "1"}


def fill(path: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values.get(m.group(1), NUMBERS.get(m.group(1), "x-1")), path)


BODIES = {"POST": {}, "PATCH": {}}
#: Well-formed bodies, so the scope check (not body decoding) is what answers.
VALID_BODIES = {
    ("POST", "/pools/{pool_id}/users"): {"email": "probe@example.com"},
    ("PATCH", "/pools/{pool_id}/users/{user_id}"): {"metadata": {}},
    ("PATCH", "/pools/{pool_id}"): {"name": "Probe"},
    ("POST", "/pools/{pool_id}/bulk"): {"action": "deactivate", "ids": ["probe"]},
}


async def denied_count(h: Harness, actor_id: str) -> int:
    async with h.web.services.db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.actor_id == actor_id, AuditEvent.outcome == "denied")
            )
            or 0
        )


async def test_a_key_of_another_pool_gets_404_everywhere_and_each_attempt_is_logged(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    victim_user = await a_user_of(operator, "business-1")
    values = {"pool_id": "business-1", "user_id": victim_user, "schema_id": "x", "admin_id": "x"}
    outsider = await make_key("pool_admin", "partner-1")
    walked = 0
    for method, path in admin_routes(harness):
        if "{pool_id" not in path:
            continue
        before = await denied_count(harness, outsider.principal.id)
        body = VALID_BODIES.get((method, path), BODIES.get(method))
        params = {"schema_id": "consumer-basic"} if path.endswith("schema-impact") else None
        response = await outsider.call(method, fill(path, values), json=body, params=params)
        assert response.status_code == 404, (method, path, response.text)
        assert [e["id"] for e in response.json()["errors"]] == ["admin.not_found"]
        assert await denied_count(harness, outsider.principal.id) == before + 1, (method, path)
        walked += 1
    assert walked >= 14
    # Nothing of the victim pool changed.
    user = await operator.get(f"/pools/business-1/users/{victim_user}")
    assert user.json()["status"] == "new"


@pytest.mark.parametrize("role", ["pool_admin", "pool_viewer"])
async def test_pool_roles_cannot_reach_tenant_level_administration(
    harness: Harness, make_key: MakeKey, role: str
) -> None:
    key = await make_key(role, "partner-1")
    for method, path in admin_routes(harness):
        readable = {"/me", "/pools", "/schemas", "/templates"}
        if "{pool_id" in path or (path in readable and method == "GET"):
            continue
        # Webhook endpoints belong to pools and are addressed by their own id: a pool
        # role manages its own pool's (tests/webhooks/test_api.py walks them with a key
        # of another pool, 404 on each).
        if path.startswith("/webhooks"):
            continue
        # A pool admin invites developers to its own pool and lists those invitations
        # (tests/web/test_developer_invitations.py: another pool's are out of reach).
        if path.startswith("/developer-invitations") and role == "pool_admin":
            continue
        if path.startswith("/schemas/") and method == "GET":
            continue
        response = await key.call(method, fill(path, {}), json=BODIES.get(method))
        assert response.status_code in {403, 400}, (method, path, response.status_code)


async def test_a_viewer_reads_but_never_writes_its_pool(
    operator: AdminClient, make_key: MakeKey
) -> None:
    user_id = await a_user_of(operator, "business-1")
    viewer = await make_key("pool_viewer", "business-1")
    assert (await viewer.get("/pools/business-1/users")).json()["total"] == 1
    assert (await viewer.get(f"/pools/business-1/users/{user_id}")).status_code == 200
    assert (await viewer.get("/pools/business-1/audit")).status_code == 200
    writes = [
        ("POST", "/pools/business-1/users", {"email": "x@business-1.example"}),
        ("PATCH", f"/pools/business-1/users/{user_id}", {"metadata": {}}),
        ("DELETE", f"/pools/business-1/users/{user_id}", None),
        ("POST", f"/pools/business-1/users/{user_id}/activate", None),
        ("POST", f"/pools/business-1/users/{user_id}/revoke-sessions", None),
    ]
    for method, path, body in writes:
        response = await viewer.call(method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert (await viewer.get(f"/pools/business-1/users/{user_id}")).json()["status"] == "new"


async def test_privilege_escalation_is_refused(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    lead = await make_key("pool_admin", "business-1")
    # A pool admin cannot mint administrators, not even for its own pool.
    for role, pool in (("tenant_admin", None), ("pool_admin", "business-1")):
        body = {"kind": "api_key", "role": role, "name": "mine", "pool_id": pool}
        assert (await lead.post("/admins", json=body)).status_code == 403
    # …nor change its own role, nor anyone's.
    own = await lead.patch(f"/admins/{lead.principal.id}", json={"role": "tenant_admin"})
    assert own.status_code == 403
    # A user cannot be moved to another pool: there is no such field.
    user_id = await a_user_of(operator, "business-1")
    moved = await lead.patch(
        f"/pools/business-1/users/{user_id}", json={"pool_id": "partner-1", "metadata": {}}
    )
    assert moved.status_code == 400
    assert (await operator.get(f"/pools/business-1/users/{user_id}")).status_code == 200
    # Tenant admins cannot change or revoke themselves (no lock-out by accident).
    me = await operator.patch(f"/admins/{operator.principal.id}", json={"role": "pool_viewer"})
    assert me.status_code == 409
    assert (await operator.post(f"/admins/{operator.principal.id}/revoke")).status_code == 409
    assert (await operator.get("/me")).json()["role"] == "tenant_admin"
