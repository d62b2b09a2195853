"""``/api/admin/workspaces``: groups of a tenant's pools and apps ("Partners",
"Employees"), each with a theme of its own; created empty or from a sector template
with its pools and theme. Tenant admins change them; brand designers read theirs."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import JSONBody, PathParameter

from widget_server.branding import templates, workspaces
from widget_server.branding.access import require_role
from widget_server.branding.templates import NewTemplateWorkspace, TemplateWorkspace
from widget_server.branding.workspaces import NewWorkspace, WorkspaceView
from widget_server.web.api.base import CurrentActor, api_services, errors

WorkspaceId = Annotated[str, PathParameter(max_length=64)]
TAGS = ["workspaces"]


class PoolMove(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pool_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class AppMove(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    app_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


@get("/workspaces", responses=errors(403), tags=TAGS)
async def list_workspaces(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> list[WorkspaceView]:
    return await workspaces.list_workspaces(api_services(request), actor)


@post("/workspaces", responses=errors(403, 422, body=True), tags=TAGS)
async def create_workspace(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewWorkspace]
) -> WorkspaceView:
    services = api_services(request)
    await require_role(services, actor, "workspaces.write", target_type="workspace")
    return await workspaces.create_workspace(services, actor, data)


@post("/workspaces/from-template", responses=errors(403, 409, 422, body=True), tags=TAGS)
async def create_from_template(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewTemplateWorkspace]
) -> TemplateWorkspace:
    """A workspace with the template's pools (ids and names given) and its theme,
    published and assigned to the workspace."""
    services = api_services(request)
    await require_role(services, actor, "workspaces.write", target_type="workspace")
    return await templates.create_workspace_from_template(services, actor, data)


@get("/workspaces/{workspace_id:str}", responses=errors(403, 404), tags=TAGS)
async def get_workspace(
    request: Request[Any, Any, Any], actor: CurrentActor, workspace_id: WorkspaceId
) -> WorkspaceView:
    services = api_services(request)
    await require_role(services, actor, "workspaces.read", target_type="workspace")
    return await workspaces.get_workspace(services, actor, workspace_id)


@patch("/workspaces/{workspace_id:str}", responses=errors(403, 404, 422, body=True), tags=TAGS)
async def rename_workspace(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    workspace_id: WorkspaceId,
    data: JSONBody[NewWorkspace],
) -> WorkspaceView:
    services = api_services(request)
    await require_role(services, actor, "workspaces.write", target_type="workspace")
    return await workspaces.rename_workspace(services, actor, workspace_id, data)


@delete("/workspaces/{workspace_id:str}", responses=errors(403, 404, 409), tags=TAGS)
async def delete_workspace(
    request: Request[Any, Any, Any], actor: CurrentActor, workspace_id: WorkspaceId
) -> None:
    """Delete an empty workspace (no pools, apps, themes or administrators: 409)."""
    services = api_services(request)
    await require_role(services, actor, "workspaces.write", target_type="workspace")
    await workspaces.delete_workspace(services, actor, workspace_id)


@post(
    "/workspaces/{workspace_id:str}/pools",
    status_code=200,
    responses=errors(403, 404, 409, 422, body=True),
    tags=TAGS,
)
async def move_pool(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    workspace_id: WorkspaceId,
    data: JSONBody[PoolMove],
) -> WorkspaceView:
    """Move a pool into this workspace; 409 while the pool uses its old workspace's theme."""
    services = api_services(request)
    await require_role(services, actor, "workspaces.write", target_type="workspace")
    return await workspaces.move_pool(services, actor, data.pool_id, workspace_id)


@post(
    "/workspaces/{workspace_id:str}/apps",
    status_code=200,
    responses=errors(403, 404, 422, body=True),
    tags=TAGS,
)
async def move_app(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    workspace_id: WorkspaceId,
    data: JSONBody[AppMove],
) -> WorkspaceView:
    """Group an app under this workspace (who may assign its theme follows)."""
    services = api_services(request)
    await require_role(services, actor, "workspaces.write", target_type="workspace")
    await workspaces.move_app(services, actor, data.app_id, workspace_id)
    return await workspaces.get_workspace(services, actor, workspace_id)


HANDLERS = [
    list_workspaces,
    create_workspace,
    create_from_template,
    get_workspace,
    rename_workspace,
    delete_workspace,
    move_pool,
    move_app,
]
