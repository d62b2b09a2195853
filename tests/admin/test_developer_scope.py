"""The ``developer`` role: apps and webhooks of its pool (or workspace), nothing else.

An app is within a developer's reach only if every pool it signs in to is; anything
outside answers like something that does not exist, and the attempt is audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.admin.keys import AdminClient, MakeKey
from tests.conftest import Harness
from widget_server.admin import apps, principals, users
from widget_server.admin.access import Actor, Principal
from widget_server.admin.apps import NewApp
from widget_server.admin.principals import NewAdmin
from widget_server.errors import Forbidden, InvalidInput, NotFound
from widget_server.models import AuditEvent, Pool


def _new_app(name: str, *pools: str) -> NewApp:
    return NewApp(
        name=name,
        kind="confidential",
        pool_ids=list(pools),
        redirect_uris=["https://shop.example/callback"],
        allowed_origins=["https://shop.example"],
    )


async def _developer(harness: Harness, operator: AdminClient, **scope: str) -> Actor:
    created = await principals.create_admin(
        harness.web.services,
        operator.actor,
        NewAdmin(kind="api_key", role="developer", name="Partner dev", **scope),
    )
    view = created.admin
    principal = Principal(
        id=view.id,
        tenant_id="acme",
        pool_id=view.pool_id,
        role="developer",
        kind="api_key",
        name=view.name,
        workspace_id=scope.get("workspace_id"),
    )
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
