"""The brand designer role and what the tenant delegates to a pool's admins: designers
reach themes and nothing else (users, schemas, policies, keys: 403 or 404 as for other
roles, audited); pool admins brand and set the policy of their pool when allowed, never
below the tenant's floor."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.admin.keys import MakeKey
from tests.branding.conftest import OPERATOR, actor, errors_of, services, workspace_ids
from tests.conftest import Harness
from widget_server.admin import principals
from widget_server.admin.delegation import (
    PoolDelegation,
    get_password_floor,
    set_password_floor,
    set_pool_delegation,
    set_pool_policy,
)
from widget_server.admin.guard import guard
from widget_server.admin.pools import PoolPatch, update_pool
from widget_server.admin.principals import NewAdmin
from widget_server.branding import catalogue
from widget_server.errors import Forbidden, InvalidInput, NotFound
from widget_server.models import AuditEvent
from widget_server.passwords.floor import PasswordFloor
from widget_server.passwords.policy import MinDigits, MinLength


async def test_a_brand_designer_key_reaches_nothing_but_themes(
    harness: Harness, make_key: MakeKey
) -> None:
    designer = await make_key("brand_designer", name="Bea's key")
    for path in (
        "/pools",
        "/schemas",
        "/admins",
        "/apps",
        "/pools/partner-1/users",
        "/pools/partner-1",
        "/audit",
    ):
        response = await designer.get(path)
        assert response.status_code == 403, (path, response.status_code)
    created = await designer.post(
        "/admins", json={"kind": "api_key", "role": "tenant_admin", "name": "escalate"}
    )
    assert created.status_code == 403
    patched = await designer.patch("/pools/partner-1", json={"password_policy": {"min_length": 4}})
    assert patched.status_code == 403
    # Themes it may: the same principal through the service.
    themes = await catalogue.list_themes(services(harness), designer.actor)
    assert any(t.id == "acme-partners" for t in themes)
    async with services(harness).db.read() as session:
        denied = list(
            (
                await session.execute(
                    select(AuditEvent.action).where(
                        AuditEvent.actor_name == "Bea's key", AuditEvent.outcome == "denied"
                    )
                )
            ).scalars()
        )
    assert {"pools.read", "schemas.read", "admins.read", "users.read", "pools.write"} <= set(denied)


async def test_a_workspace_scoped_designer_gets_404_for_other_workspaces_pools(
    harness: Harness,
) -> None:
    """Scope before role, as for pool admins: another workspace's pool does not exist for
    it; a pool of its own workspace exists, but its users are not the designer's."""
    ids = await workspace_ids(harness)
    scoped = actor("brand_designer", workspace_id=ids["Partners"])
    with pytest.raises(NotFound):
        await guard(services(harness), scoped, "users.read", pool_id="employees")
    with pytest.raises(Forbidden):
        await guard(services(harness), scoped, "users.read", pool_id="partner-1")


async def test_designers_are_created_for_the_tenant_or_one_workspace(harness: Harness) -> None:
    svc = services(harness)
    ids = await workspace_ids(harness)
    made = await principals.create_admin(
        svc,
        OPERATOR,
        NewAdmin(kind="api_key", role="brand_designer", name="ci", workspace_id=ids["Partners"]),
    )
    assert made.admin.workspace_id == ids["Partners"] and made.api_key
    for new, field, message in (
        (
            NewAdmin(kind="api_key", role="brand_designer", name="x", pool_id="partner-1"),
            "pool_id",
            "admin.role_scope",
        ),
        (
            NewAdmin(kind="api_key", role="pool_admin", name="x", pool_id="partner-1",
                     workspace_id=ids["Partners"]),
            "workspace_id",
            "admin.role_scope",
        ),
        (
            NewAdmin(kind="api_key", role="brand_designer", name="x", workspace_id="nope"),
            "workspace_id",
            "brand.unknown_workspace",
        ),
    ):  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            await principals.create_admin(svc, OPERATOR, new)
        assert errors_of(refused.value) == {field: [message]}
    # A designer cannot make administrators at all.
    with pytest.raises(Forbidden):
        await principals.create_admin(
            svc, actor("brand_designer"), NewAdmin(kind="api_key", role="brand_designer", name="y")
        )


async def test_the_floor_holds_whoever_sets_the_policy(harness: Harness) -> None:
    svc = services(harness)
    floor = await set_password_floor(svc, OPERATOR, PasswordFloor(min_length=12, min_digits=1))
    assert (floor.min_length, floor.min_digits) == (12, 1)
    assert (await get_password_floor(svc, actor("pool_admin", pool_id="business-1"))) == floor
    # Pools set before the floor now enforce it: their effective policy was raised.
    view = await svc.pools.get("partner-1")
    assert view.policy.validators[0] == MinLength(12)
    assert MinDigits(1) in view.policy.validators
    with pytest.raises(InvalidInput) as below:
        await update_pool(svc, OPERATOR, "partner-1", PoolPatch(password_policy={"min_length": 10}))
    assert errors_of(below.value) == {
        "password_policy.min_length": ["policy.below_floor"],
        "password_policy.min_digits": ["policy.below_floor"],
    }
    assert below.value.messages["password_policy.min_length"][0].params == {
        "field": "min_length",
        "min": 12,
    }


async def test_pool_admins_set_their_policy_only_when_the_tenant_lets_them(
    harness: Harness,
) -> None:
    svc = services(harness)
    await set_password_floor(svc, OPERATOR, PasswordFloor(min_length=10, common=True))
    lead = actor("pool_admin", pool_id="business-1")  # delegated in the demo
    done = await set_pool_policy(svc, lead, "business-1", {"min_length": 14, "min_special": 1})
    assert done.password_policy == {"min_length": 14, "min_special": 1}
    with pytest.raises(InvalidInput) as weak:
        await set_pool_policy(svc, lead, "business-1", {"min_length": 9, "common": False})
    assert errors_of(weak.value) == {
        "password_policy.min_length": ["policy.below_floor"],
        "password_policy.common": ["policy.floor_requires"],
    }
    with pytest.raises(Forbidden):  # another pool's admin: not delegated
        await set_pool_policy(svc, actor("pool_admin", pool_id="partner-1"), "partner-1", {})
    await set_pool_delegation(
        svc, OPERATOR, "business-1", PoolDelegation(admins_may_set_policy=False)
    )
    with pytest.raises(Forbidden):
        await set_pool_policy(svc, lead, "business-1", {"min_length": 16})
    with pytest.raises(Forbidden):  # only the tenant decides what it delegates
        await set_pool_delegation(
            svc, lead, "business-1", PoolDelegation(admins_may_set_policy=True)
        )


async def test_withdrawn_branding_rights_take_effect(harness: Harness) -> None:
    svc = services(harness)
    lead = actor("pool_admin", pool_id="business-1")
    assert await catalogue.list_themes(svc, lead)
    detail = await set_pool_delegation(
        svc, OPERATOR, "business-1", PoolDelegation(admins_may_brand=False)
    )
    assert (detail.admins_may_brand, detail.admins_may_set_policy) == (False, True)
    with pytest.raises(Forbidden):
        await catalogue.list_themes(svc, lead)
