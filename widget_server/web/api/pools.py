"""``/api/admin/pools``: the operator's pools; a pool-scoped key sees only its own."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from widget_server.admin import pools
from widget_server.admin.pools import NewPool, PoolChange, PoolDetail, PoolPatch
from widget_server.admin.templates import TEMPLATES, SectorTemplate
from widget_server.web.api.base import CurrentActor, api_services, errors

PoolId = Annotated[str, PathParameter(max_length=64)]
TAGS = ["pools"]


@get("/pools", responses=errors(), tags=TAGS)
async def list_pools(request: Request[Any, Any, Any], actor: CurrentActor) -> list[PoolDetail]:
    """Pools the key can see: all of the tenant's, or the one it is scoped to."""
    return await pools.list_pools(api_services(request), actor)


@post("/pools", responses=errors(403, 422, body=True), tags=TAGS)
async def create_pool(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewPool]
) -> PoolDetail:
    """Create a pool, from a sector template when ``template`` is given (tenant admins)."""
    return await pools.create_pool(api_services(request), actor, data)


@get("/pools/{pool_id:str}", responses=errors(404), tags=TAGS)
async def get_pool(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId
) -> PoolDetail:
    return await pools.get_pool(api_services(request), actor, pool_id)


@patch("/pools/{pool_id:str}", responses=errors(403, 404, 422, body=True), tags=TAGS)
async def update_pool(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, data: JSONBody[PoolPatch]
) -> PoolChange:
    """Change settings. When the payload schema changes, ``invalid_users`` counts the
    existing users whose data no longer validates."""
    return await pools.update_pool(api_services(request), actor, pool_id, data)


@delete("/pools/{pool_id:str}", responses=errors(403, 404, 409), tags=TAGS)
async def delete_pool(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId
) -> None:
    """Delete a pool that has no users and no administrators left."""
    await pools.delete_pool(api_services(request), actor, pool_id)


@get("/pools/{pool_id:str}/schema-impact", responses=errors(404, 422), tags=TAGS)
async def schema_impact(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    schema_id: Annotated[str, QueryParameter(max_length=64)],
) -> dict[str, int]:
    """How many users would no longer validate if the pool used ``schema_id`` (dry run)."""
    count = await pools.schema_impact(api_services(request), actor, pool_id, schema_id)
    return {"invalid_users": count}


@get("/templates", responses=errors(), tags=TAGS)
async def list_templates(actor: CurrentActor) -> list[SectorTemplate]:
    """Sector templates a pool can be created from (``POST /pools`` with ``template``)."""
    return list(TEMPLATES.values())


HANDLERS = [
    list_templates,
    list_pools,
    create_pool,
    get_pool,
    update_pool,
    delete_pool,
    schema_impact,
]
