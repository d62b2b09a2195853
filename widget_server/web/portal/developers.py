"""Partner developers (tenant admins, and pool admins for their pool): invite by email to
one or more pools or a workspace, see the invitations, resend, withdraw. Everything goes
through ``admin.developer_invitations`` like the API.

The scope is one repeated control, ``scope``: ticked ``pool:<id>`` boxes, or one
``workspace:<id>``; both at once, or two workspaces, is an error on ``scope``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter

from widget_server.admin.developer_invitations import (
    NewDeveloperInvitation,
    invite_developer,
    list_invitations,
    resend_invitation,
    revoke_invitation,
)
from widget_server.admin.developer_scope import MAX_POOLS, SCOPE_WORDS
from widget_server.branding.workspaces import list_workspaces
from widget_server.errors import Conflict, Forbidden, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.forms import Errors, by_field, convert, text
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in

InvitationId = Annotated[str, PathParameter(max_length=36)]
FIELDS = ("email", "name")


async def _inviter(request: AnyRequest) -> Portal:
    portal = await signed_in(request)
    if not portal.can("developers.invite"):
        raise Forbidden("developers.invite")
    return portal


def _blank() -> dict[str, Any]:
    return dict.fromkeys(FIELDS, "") | {"scope": []}


async def _page(
    portal: Portal,
    values: Mapping[str, Any],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    *,
    status: int = 200,
) -> Any:
    workspaces = (
        await list_workspaces(portal.services, portal.actor) if portal.is_tenant_admin else []
    )
    return portal.page(
        "developers.html",
        status=status,
        invitations=await list_invitations(portal.services, portal.actor),
        pools={p.id: p.name for p in portal.nav_pools},
        workspaces={w.id: w.name for w in workspaces},
        values=values,
        errors=errors or {},
        alerts=alerts,
        title="Developers",
    )


@get(BASE + "/developers")
async def developers_page(request: AnyRequest) -> Any:
    return await _page(await _inviter(request), _blank())


@post(BASE + "/developers", status_code=200)
async def invite_submit(request: AnyRequest) -> Any:
    portal = await _inviter(request)
    form = await form_of(portal)
    values: dict[str, Any] = {k: text(form, k) for k in FIELDS}
    values["scope"] = scope = [s for s in form.get("scope", [])[:MAX_POOLS + 2] if s]
    pools, workspaces = _scope(scope)
    data = {
        "email": values["email"],
        "name": values["name"],
        "pool_ids": pools or None,
        "workspace_id": workspaces[0] if workspaces else None,
    }
    errors: Errors = {}
    try:
        if len(workspaces) > 1 or (pools and workspaces):
            problem = msg("admin.role_scope", "error", role="developer", scope=SCOPE_WORDS)
            raise InvalidInput({"scope": [problem]})
        new = convert(data, NewDeveloperInvitation, errors)
        await invite_developer(portal.services, portal.actor, new)
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        owned = ("pool_id", "pool_ids", "workspace_id")
        if any(f in fields for f in owned):
            moved = tuple(m for f in owned for m in fields.get(f, ()))
            fields = {k: v for k, v in fields.items() if k not in owned} | {"scope": moved}
        return await _page(portal, values, fields, alerts, status=422)
    return await _page(portal, _blank(), alerts=(msg("invitation.developer_sent", "info"),))


def _scope(chosen: Sequence[str]) -> tuple[list[str], list[str]]:
    """Ticked ``pool:<id>`` and ``workspace:<id>`` values, each as its ids (others
    ignored: the service then says the scope is missing)."""
    pools: list[str] = []
    workspaces: list[str] = []
    for value in chosen:
        kind, _, target = value.partition(":")
        if target and kind == "pool":
            pools.append(target)
        elif target and kind == "workspace":
            workspaces.append(target)
    return pools, workspaces


@post(BASE + "/developers/{invitation_id:str}/resend", status_code=200)
async def resend_submit(request: AnyRequest, invitation_id: InvitationId) -> Any:
    portal = await _inviter(request)
    await form_of(portal)
    try:
        await resend_invitation(portal.services, portal.actor, invitation_id)
    except Conflict as exc:
        return await _page(portal, _blank(), alerts=(exc.message,), status=409)
    return await _page(portal, _blank(), alerts=(msg("invitation.developer_sent", "info"),))


@post(BASE + "/developers/{invitation_id:str}/revoke", status_code=200)
async def revoke_submit(request: AnyRequest, invitation_id: InvitationId) -> Any:
    portal = await _inviter(request)
    await form_of(portal)
    try:
        await revoke_invitation(portal.services, portal.actor, invitation_id)
    except Conflict as exc:
        return await _page(portal, _blank(), alerts=(exc.message,), status=409)
    return await _page(portal, _blank(), alerts=(msg("admin.saved", "info"),))


HANDLERS = [developers_page, invite_submit, resend_submit, revoke_submit]
