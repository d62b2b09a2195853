"""A workspace made from a sector template: the workspace, its pools (each from the
template), and a theme copied from the template's built-in, published and assigned to
the workspace. All of it in one transaction: a pool id that is taken leaves nothing.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from widget_server.admin import audit
from widget_server.admin.access import Actor
from widget_server.admin.guard import guard
from widget_server.admin.pools import NewPool, insert_pool
from widget_server.admin.templates import TEMPLATES
from widget_server.branding.access import TENANT, Place, audits_refusals, check
from widget_server.branding.catalogue import insert_theme
from widget_server.branding.publishing import publish_tokens
from widget_server.branding.tokens import layer_of
from widget_server.branding.workspaces import WorkspaceView, get_workspace, insert_workspace
from widget_server.errors import InvalidInput
from widget_server.messages import msg
from widget_server.models import ThemeAssignment
from widget_server.services import Services
from widget_server.themes import load_builtin_themes

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TemplatePool(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=2, max_length=63)]
    name: _Name
    allowed_origins: list[str] | None = None
    email_domains: list[str] | None = None


class NewTemplateWorkspace(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: _Name
    #: A sector template id (``admin.templates.TEMPLATES``).
    template: str
    pools: Annotated[list[TemplatePool], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    #: The theme's name; "<workspace> theme" when absent.
    theme_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class TemplateWorkspace(msgspec.Struct, frozen=True, kw_only=True):
    workspace: WorkspaceView
    theme_id: str


@audits_refusals
async def create_workspace_from_template(
    services: Services, actor: Actor, new: NewTemplateWorkspace
) -> TemplateWorkspace:
    await check(services, actor, "workspaces.write", TENANT, target_type="workspace")
    await guard(services, actor, "pools.write", target_type="workspace")
    template = TEMPLATES.get(new.template)
    if template is None:
        raise InvalidInput({"template": [msg("admin.unknown_template")]})
    now = services.clock.now()
    name = " ".join(new.name.split())
    async with services.db.write() as session:
        workspace = await insert_workspace(session, actor.tenant_id, name, now)
        for pool in new.pools:
            await insert_pool(
                session,
                actor,
                NewPool(
                    id=pool.id,
                    name=pool.name,
                    template=template.id,
                    workspace_id=workspace.id,
                    allowed_origins=pool.allowed_origins,
                    email_domains=pool.email_domains,
                ),
                now,
            )
        builtin = load_builtin_themes()[template.theme]
        record = await insert_theme(
            session,
            actor,
            Place(workspace_id=workspace.id),
            new.theme_name or f"{name} theme"[:100],
            builtin.id,
            layer_of(builtin),
            now,
        )
        await publish_tokens(session, actor, record, dict(record.draft), now, False, None)
        session.add(
            ThemeAssignment(
                level="workspace",
                target_id=workspace.id,
                tenant_id=actor.tenant_id,
                theme_id=record.id,
                assigned_at=now,
                assigned_by=actor.principal.name[:200],
            )
        )
        await audit.record(
            session,
            actor,
            "workspace.create",
            target_type="workspace",
            target_id=workspace.id,
            pool_id=None,
            now=now,
            details={
                "name": name,
                "template": template.id,
                "pools": [p.id for p in new.pools],
                "theme_id": record.id,
            },
        )
    view = await get_workspace(services, actor, workspace.id)
    return TemplateWorkspace(workspace=view, theme_id=record.id)
