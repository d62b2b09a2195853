"""``/api/admin/schemas``: built-in (read-only) and the tenant's own identity schemas."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, patch, post
from litestar.params import JSONBody, PathParameter

from widget_server.admin import schemas
from widget_server.admin.schemas import NewSchema, SchemaPatch, SchemaView
from widget_server.web.api.base import CurrentActor, api_services, errors

SchemaId = Annotated[str, PathParameter(max_length=64)]
TAGS = ["schemas"]


@get("/schemas", responses=errors(), tags=TAGS)
async def list_schemas(request: Request[Any, Any, Any], actor: CurrentActor) -> list[SchemaView]:
    return await schemas.list_schemas(api_services(request), actor)


@post("/schemas", responses=errors(403, 422, body=True), tags=TAGS)
async def create_schema(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewSchema]
) -> SchemaView:
    """Store a schema after checking it: valid JSON Schema 2020-12, local ``$ref`` only,
    patterns the linear-time RE2 engine compiles, and (payload) drawable as a form."""
    return await schemas.create_schema(api_services(request), actor, data)


@get("/schemas/{schema_id:str}", responses=errors(404), tags=TAGS)
async def get_schema(
    request: Request[Any, Any, Any], actor: CurrentActor, schema_id: SchemaId
) -> SchemaView:
    return await schemas.get_schema(api_services(request), actor, schema_id)


@patch("/schemas/{schema_id:str}", responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def update_schema(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    schema_id: SchemaId,
    data: JSONBody[SchemaPatch],
) -> SchemaView:
    """Built-in schemas answer 409."""
    return await schemas.update_schema(api_services(request), actor, schema_id, data)


@delete("/schemas/{schema_id:str}", responses=errors(403, 404, 409), tags=TAGS)
async def delete_schema(
    request: Request[Any, Any, Any], actor: CurrentActor, schema_id: SchemaId
) -> None:
    """Built-in schemas and schemas in use answer 409."""
    await schemas.delete_schema(api_services(request), actor, schema_id)


HANDLERS = [list_schemas, create_schema, get_schema, update_schema, delete_schema]
