"""``/api/admin/developer-invitations``: invite partner developers by email (tenant admins
to a pool or a workspace, pool admins to their pool), list, resend, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.params import JSONBody, PathParameter

from widget_server.admin import developer_invitations as invitations
from widget_server.admin.developer_invitations import InvitationView, NewDeveloperInvitation
from widget_server.web.api.base import CurrentActor, api_services, errors

InvitationId = Annotated[str, PathParameter(max_length=36)]
TAGS = ["developers"]


@get("/developer-invitations", responses=errors(403), tags=TAGS)
async def list_invitations(
    request: Request[Any, Any, Any], actor: CurrentActor
) -> list[InvitationView]:
    return await invitations.list_invitations(api_services(request), actor)


@post("/developer-invitations", responses=errors(403, 404, 422, body=True), tags=TAGS)
async def invite(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewDeveloperInvitation]
) -> InvitationView:
    """Email a single-use link (valid 7 days) with which the developer chooses a password
    and signs in to ``/developers``. The answer is the same whether or not the address
    already has access."""
    return await invitations.invite_developer(api_services(request), actor, data)


@post(
    "/developer-invitations/{invitation_id:str}/resend",
    status_code=200,
    responses=errors(403, 404, 409),
    tags=TAGS,
)
async def resend(
    request: Request[Any, Any, Any], actor: CurrentActor, invitation_id: InvitationId
) -> InvitationView:
    """A new link, valid 7 days from now; the previous link stops working."""
    return await invitations.resend_invitation(api_services(request), actor, invitation_id)


@post(
    "/developer-invitations/{invitation_id:str}/revoke",
    status_code=200,
    responses=errors(403, 404, 409),
    tags=TAGS,
)
async def revoke(
    request: Request[Any, Any, Any], actor: CurrentActor, invitation_id: InvitationId
) -> InvitationView:
    """The link stops working (an accepted invitation cannot be revoked: revoke the
    developer instead)."""
    return await invitations.revoke_invitation(api_services(request), actor, invitation_id)


HANDLERS = [list_invitations, invite, resend, revoke]
