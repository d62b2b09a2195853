"""Workspaces in the studio: list, create (empty or from a sector template with its pools
and theme), rename, delete (only empty ones), and move pools between them. Tenant admins
change them; brand designers read the ones in their scope."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Response, get, post
from litestar.params import PathParameter

from widget_server.admin.templates import TEMPLATES
from widget_server.branding.templates import (
    NewTemplateWorkspace,
    TemplatePool,
    create_workspace_from_template,
)
from widget_server.branding.workspaces import (
    NewWorkspace,
    create_workspace,
    delete_workspace,
    list_workspaces,
    move_pool,
    rename_workspace,
)
from widget_server.errors import Conflict, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.shared.console import AnyRequest, Form, one, see_other
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

PAGE = BASE + "/branding/workspaces"
DONE = PAGE + "?done=studio.workspace_saved"

WorkspaceId = Annotated[str, PathParameter(max_length=64)]


async def _page(
    portal: Portal,
    *,
    status: int = 200,
    errors: dict[str, list[Msg]] | None = None,
    form: Form | None = None,
) -> Response[str]:
    workspaces = await list_workspaces(portal.services, portal.actor)
    pools = sorted({p for w in workspaces for p in w.pool_ids})
    return portal.page(
        "workspaces.html",
        folder="studio",
        status=status,
        title="Workspaces",
        workspaces=workspaces,
        pools=pools,
        templates=list(TEMPLATES.values()),
        errors=errors or {},
        typed={k: v[0] for k, v in (form or {}).items() if v and isinstance(v[0], str)},
    )


async def _refused(portal: Portal, form: Form, exc: InvalidInput | Conflict) -> Response[str]:
    if isinstance(exc, InvalidInput):
        errors = {k: list(v) for k, v in exc.messages.items()}
        return await _page(portal, status=422, errors=errors, form=form)
    return await _page(portal, status=409, errors={"": [exc.message]}, form=form)


@get(PAGE)
async def workspaces(request: AnyRequest) -> Response[str]:
    return await _page(await signed_in(request))


@post(PAGE)
async def create(request: AnyRequest) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        name = one(form, "name").strip()
        if not name:
            raise InvalidInput({"name": [msg("form.required")]})
        await create_workspace(portal.services, portal.actor, NewWorkspace(name=name[:100]))
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, form, exc)
    return see_other(DONE)


@post(PAGE + "/from-template")
async def from_template(request: AnyRequest) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        name, pool_id = one(form, "name").strip(), one(form, "pool_id").strip()
        if not name:
            raise InvalidInput({"name": [msg("form.required")]})
        pools = []
        if pool_id:
            pool_name = one(form, "pool_name").strip() or name
            pools = [TemplatePool(id=pool_id[:63], name=pool_name[:100])]
        new = NewTemplateWorkspace(name=name[:100], template=one(form, "template"), pools=pools)
        await create_workspace_from_template(portal.services, portal.actor, new)
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, form, exc)
    return see_other(DONE)


@post(PAGE + "/{workspace_id:str}")
async def rename(request: AnyRequest, workspace_id: WorkspaceId) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        name = one(form, "name").strip()
        if not name:
            raise InvalidInput({"name": [msg("form.required")]})
        await rename_workspace(
            portal.services, portal.actor, workspace_id, NewWorkspace(name=name[:100])
        )
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, form, exc)
    return see_other(DONE)


@post(PAGE + "/{workspace_id:str}/delete")
async def delete(request: AnyRequest, workspace_id: WorkspaceId) -> Response[Any]:
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        await delete_workspace(portal.services, portal.actor, workspace_id)
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, form, exc)
    return see_other(PAGE + "?done=studio.workspace_deleted")


@post(PAGE + "/{workspace_id:str}/pools")
async def move(request: AnyRequest, workspace_id: WorkspaceId) -> Response[Any]:
    """Move the pool named in the form into this workspace."""
    portal = await signed_in(request)
    form = await form_of(portal)
    try:
        await move_pool(portal.services, portal.actor, one(form, "pool_id"), workspace_id)
    except (InvalidInput, Conflict) as exc:
        return await _refused(portal, form, exc)
    return see_other(DONE)


HANDLERS = [workspaces, create, from_template, rename, delete, move]
