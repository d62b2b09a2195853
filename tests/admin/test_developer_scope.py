"""The ``developer`` role: apps and webhooks of its pools (or workspace), nothing else.

An app is within a developer's reach only if every pool it signs in to is; anything
outside answers like something that does not exist, and the attempt is audited."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness
from widget_server.admin import apps, principals, users
from widget_server.admin import pools as pool_service
from widget_server.admin.access import Actor, load_principal, pool_scope, tenant_wide
from widget_server.admin.apps import NewApp
from widget_server.admin.principals import NewAdmin
from widget_server.errors import Conflict, Forbidden, InvalidInput, NotFound
from widget_server.models import AdminPrincipal, AdminPrincipalPool, AuditEvent, Pool
from widget_server.webhooks import manage


def _new_app(name: str, *pools: str) -> NewApp:
    return NewApp(
        name=name,
        kind="confidential",
        pool_ids=list(pools),
        redirect_uris=["https://shop.example/callback"],
        allowed_origins=["https://shop.example"],
    )


async def _developer(harness: Harness, operator: AdminClient, **scope: Any) -> Actor:
    created = await principals.create_admin(
        harness.web.services,
        operator.actor,
        NewAdmin(kind="api_key", role="developer", name="Partner dev", **scope),
    )
    # The principal as a request would load it: its pool set from the database.
    async with harness.web.services.db.read() as session:
        row = await session.get(AdminPrincipal, created.admin.id)
        assert row is not None
        principal = await load_principal(session, row)
    return Actor(principal=principal, ip="127.0.0.1")


async def test_a_developer_sees_and_changes_only_apps_of_its_pool(
    harness: Harness, operator: AdminClient
) -> None:
    services = harness.web.services
    mine = await apps.create_app(services, operator.actor, _new_app("Mine", "partner-1"))
    wider = await apps.create_app(
        services, operator.actor, _new_app("Wider", "partner-1", "partner-2")
    )
    dev = await _developer(harness, operator, pool_id="partner-1")

    listed = {a.id for a in await apps.list_apps(services, dev)}
    assert mine.app.id in listed and wider.app.id not in listed
    rotated = await apps.rotate_secret(services, dev, mine.app.id)
    assert rotated.client_secret

    with pytest.raises(NotFound):
        await apps.get_app(services, dev, wider.app.id)
    with pytest.raises(NotFound):
        await apps.revoke_app(services, dev, wider.app.id)
    async with services.db.read() as session:
        denied = (
            (
                await session.execute(
                    select(AuditEvent).where(
                        AuditEvent.target_id == wider.app.id, AuditEvent.outcome == "denied"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(denied) == 2


async def test_a_developer_registers_apps_only_for_pools_in_scope(
    harness: Harness, operator: AdminClient
) -> None:
    services = harness.web.services
    dev = await _developer(harness, operator, pool_id="partner-1")
    created = await apps.create_app(services, dev, _new_app("Shop", "partner-1"))
    assert created.app.pool_ids == ["partner-1"]
    with pytest.raises(InvalidInput) as refused:
        await apps.create_app(services, dev, _new_app("Sneaky", "partner-1", "business-1"))
    [message] = refused.value.messages["pool_ids"]
    assert message.id == "app.pool_unknown"  # reads like a pool that does not exist
    with pytest.raises(InvalidInput):
        await apps.update_app(services, dev, created.app.id, apps.AppPatch(pool_ids=["partner-2"]))


async def test_a_developer_never_reaches_users(
    harness: Harness, operator: AdminClient, make_key: MakeKey
) -> None:
    dev = await _developer(harness, operator, pool_id="partner-1")
    with pytest.raises(Forbidden):
        await users.list_users(harness.web.services, dev, "partner-1")
    with pytest.raises(NotFound):
        await users.list_users(harness.web.services, dev, "partner-2")


async def test_a_workspace_developer_reaches_the_workspaces_pools(
    harness: Harness, operator: AdminClient
) -> None:
    services = harness.web.services
    async with services.db.read() as session:
        workspace = await session.scalar(select(Pool.workspace_id).where(Pool.id == "partner-1"))
        members = set(
            (await session.execute(select(Pool.id).where(Pool.workspace_id == workspace))).scalars()
        )
    assert workspace is not None and "partner-1" in members
    dev = await _developer(harness, operator, workspace_id=workspace)
    created = await apps.create_app(services, dev, _new_app("All partners", *sorted(members)))
    assert set(created.app.pool_ids) == members
    outside = next(p for p in ("business-1", "employees") if p not in members)
    with pytest.raises(InvalidInput):
        await apps.create_app(services, dev, _new_app("Outside", outside))


@pytest.mark.parametrize("scope", [{}, {"pool_id": "partner-1", "workspace_id": "x"}])
async def test_a_developer_needs_exactly_one_pool_or_workspace(
    harness: Harness, operator: AdminClient, scope: dict[str, str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await _developer(harness, operator, **scope)
    assert "pool_id" in refused.value.messages or "workspace_id" in refused.value.messages


async def _denials(harness: Harness, target_id: str) -> list[AuditEvent]:
    async with harness.web.services.db.read() as session:
        found = await session.execute(
            select(AuditEvent).where(
                AuditEvent.target_id == target_id, AuditEvent.outcome == "denied"
            )
        )
        return list(found.scalars())


async def test_a_developer_of_two_pools_reaches_both_and_not_a_third(
    harness: Harness, operator: AdminClient
) -> None:
    services = harness.web.services
    dev = await _developer(harness, operator, pool_ids=["partner-1", "partner-2"])
    assert dev.principal.pool_id is None
    assert dev.principal.pool_ids == frozenset({"partner-1", "partner-2"})
    assert await apps.app_pool_ids(services, dev) == sorted(["partner-1", "partner-2"], key=str)
    both = await apps.create_app(services, dev, _new_app("Both", "partner-1", "partner-2"))
    assert set(both.app.pool_ids) == {"partner-1", "partner-2"}
    third = await apps.create_app(
        services, operator.actor, _new_app("Third", "partner-1", "business-1")
    )
    listed = {a.id for a in await apps.list_apps(services, dev)}
    assert both.app.id in listed and third.app.id not in listed
    with pytest.raises(NotFound):
        await apps.get_app(services, dev, third.app.id)
    with pytest.raises(NotFound):
        await apps.rotate_secret(services, dev, third.app.id)
    assert len(await _denials(harness, third.app.id)) == 2
    with pytest.raises(InvalidInput) as refused:
        await apps.create_app(services, dev, _new_app("Out", "business-1"))
    assert refused.value.messages["pool_ids"][0].id == "app.pool_unknown"
    # Pools: both listed, the third a 404 like a missing one, and audited.
    seen = {p.id for p in await pool_service.list_pools(services, dev)}
    assert seen == {"partner-1", "partner-2"}
    with pytest.raises(NotFound):
        await pool_service.get_pool(services, dev, "business-1")
    assert await _denials(harness, "business-1")


async def test_a_developer_of_two_pools_manages_both_pools_webhooks_only(
    harness: Harness, operator: AdminClient
) -> None:
    services = harness.web.services
    dev = await _developer(harness, operator, pool_ids=["partner-1", "partner-2"])
    made = {}
    for pool in ("partner-1", "partner-2", "business-1"):
        made[pool] = await manage.create_endpoint(
            services,
            operator.actor,
            manage.NewEndpoint(url=f"https://hooks.example/{pool}", pool_id=pool),
        )
    mine = {e.id for e in await manage.list_endpoints(services, dev)}
    assert mine == {made["partner-1"].endpoint.id, made["partner-2"].endpoint.id}
    await manage.update_endpoint(
        services, dev, made["partner-2"].endpoint.id, manage.EndpointPatch(description="ok")
    )
    outside = made["business-1"].endpoint.id
    with pytest.raises(NotFound):
        await manage.get_endpoint(services, dev, outside)
    with pytest.raises(NotFound):
        await manage.delete_endpoint(services, dev, outside)
    with pytest.raises(NotFound):
        await manage.create_endpoint(
            services, dev, manage.NewEndpoint(url="https://x.example/h", pool_id="business-1")
        )
    assert len(await _denials(harness, outside)) == 2
    assert await _denials(harness, "business-1")


async def test_a_developer_whose_pools_are_gone_reaches_nothing(
    harness: Harness, operator: AdminClient
) -> None:
    """Never read as tenant-wide: no workspace and an empty pool set is no pool at all."""
    services = harness.web.services
    dev = await _developer(harness, operator, pool_ids=["partner-1"])
    async with services.db.write() as session:
        await session.execute(
            delete(AdminPrincipalPool).where(AdminPrincipalPool.principal_id == dev.principal.id)
        )
        row = await session.get(AdminPrincipal, dev.principal.id)
        assert row is not None
        emptied = Actor(principal=await load_principal(session, row))
    assert pool_scope(emptied.principal) == frozenset()
    assert not tenant_wide(emptied.principal)
    assert await apps.list_apps(services, emptied) == []
    assert await apps.app_pool_ids(services, emptied) == []
    assert await manage.list_endpoints(services, emptied) == []
    with pytest.raises(InvalidInput) as refused:
        await apps.create_app(services, emptied, _new_app("Any", "partner-1"))
    assert refused.value.messages["pool_ids"][0].id == "app.pool_unknown"


async def test_a_pool_with_a_live_developer_is_not_deleted(
    harness: Harness, operator: AdminClient
) -> None:
    services = harness.web.services
    await pool_service.create_pool(
        services,
        operator.actor,
        pool_service.NewPool(id="spare-1", name="Spare", payload_schema_id="consumer-basic"),
    )
    await _developer(harness, operator, pool_ids=["partner-1", "spare-1"])
    with pytest.raises(Conflict) as refused:
        await pool_service.delete_pool(services, operator.actor, "spare-1")
    assert refused.value.message.id == "admin.pool_has_admins"


@pytest.mark.parametrize(
    ("scope", "field", "message_id"),
    [
        ({"pool_ids": []}, "pool_ids", "admin.role_scope"),
        ({"pool_ids": ["partner-1", "nowhere"]}, "pool_ids", "admin.unknown_pool"),
        ({"pool_ids": ["partner-1"], "workspace_id": "x"}, "pool_ids", "admin.role_scope"),
        ({"pool_ids": [f"p{i}" for i in range(51)]}, "pool_ids", "admin.too_many"),
        ({"pool_id": "nowhere"}, "pool_id", "admin.unknown_pool"),
    ],
)
async def test_a_developers_pools_are_checked_by_field(
    harness: Harness, operator: AdminClient, scope: dict[str, Any], field: str, message_id: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await _developer(harness, operator, **scope)
    assert [m.id for m in refused.value.messages[field]] == [message_id]


async def test_pool_ids_are_for_developers_only(harness: Harness, operator: AdminClient) -> None:
    with pytest.raises(InvalidInput) as refused:
        await principals.create_admin(
            harness.web.services,
            operator.actor,
            NewAdmin(kind="api_key", role="pool_admin", name="Lead", pool_ids=["partner-1"]),
        )
    assert "pool_ids" in refused.value.messages


async def test_the_api_creates_and_lists_a_developer_of_two_pools(
    harness: Harness, operator: AdminClient
) -> None:
    created = await operator.post(
        "/admins",
        json={
            "kind": "api_key",
            "role": "developer",
            "name": "Two pools",
            "pool_ids": ["partner-2", "partner-1"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["admin"]["pool_ids"] == ["partner-1", "partner-2"]
    assert body["admin"]["pool_id"] is None
    listed = {a["id"]: a for a in (await operator.get("/admins")).json()}
    assert listed[body["admin"]["id"]]["pool_ids"] == ["partner-1", "partner-2"]
    # The key works with both pools and no third, through HTTP.
    headers = {"Authorization": f"Bearer {body['api_key']}"}
    client = harness.client
    pools = await client.get("/api/admin/pools", headers=headers)
    assert {p["id"] for p in pools.json()} == {"partner-1", "partner-2"}
    assert (await client.get("/api/admin/pools/partner-2", headers=headers)).status_code == 200
    assert (await client.get("/api/admin/pools/business-1", headers=headers)).status_code == 404


async def test_a_role_change_keeps_the_scope(harness: Harness, operator: AdminClient) -> None:
    """A pool admin made developer keeps its pool (now a row of its set); a developer of
    two pools cannot become a one-pool role; one of one pool can, with that pool."""
    services = harness.web.services
    lead = await principals.create_admin(
        services,
        operator.actor,
        NewAdmin(kind="api_key", role="pool_admin", name="Lead", pool_id="partner-1"),
    )
    moved = await principals.update_admin(
        services, operator.actor, lead.admin.id, principals.AdminPatch(role="developer")
    )
    assert (moved.pool_id, moved.pool_ids) == (None, ["partner-1"])
    back = await principals.update_admin(
        services, operator.actor, lead.admin.id, principals.AdminPatch(role="pool_viewer")
    )
    assert (back.pool_id, back.pool_ids) == ("partner-1", [])
    two = await _developer(harness, operator, pool_ids=["partner-1", "partner-2"])
    with pytest.raises(InvalidInput) as refused:
        await principals.update_admin(
            services, operator.actor, two.principal.id, principals.AdminPatch(role="pool_admin")
        )
    assert [m.id for m in refused.value.messages["role"]] == ["admin.role_scope"]
    with pytest.raises(InvalidInput):
        await principals.update_admin(
            services, operator.actor, two.principal.id, principals.AdminPatch(role="tenant_admin")
        )
    async with services.db.read() as session:
        row = await session.get(AdminPrincipal, two.principal.id)
        assert row is not None and row.role == "developer"
        assert pool_scope(await load_principal(session, row)) == {"partner-1", "partner-2"}
