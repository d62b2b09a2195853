"""``/api/admin/pools/{pool_id}/users``: a pool's users, for its administrators.

Pool admins and tenant admins write; pool viewers read. A user id of another pool is a
404, like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from widget_server.admin import users
from widget_server.users.inputs import NewUser, UserPatch
from widget_server.users.views import UserPage, UserView
from widget_server.web.api.base import CurrentActor, api_services, errors

PoolId = Annotated[str, PathParameter(max_length=64)]
UserId = Annotated[str, PathParameter(max_length=36)]
TAGS = ["users"]
BASE = "/pools/{pool_id:str}/users"
ONE = BASE + "/{user_id:str}"


@get(BASE, responses=errors(404, 422), tags=TAGS)
async def list_users(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    q: Annotated[str | None, QueryParameter(max_length=320)] = None,
    status: Annotated[
        Literal["new", "active", "inactive", "deleted"] | None, QueryParameter()
    ] = None,
    field: Annotated[str | None, QueryParameter(max_length=64)] = None,
    value: Annotated[str | None, QueryParameter(max_length=1000)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    """Newest first. ``q``: part of an address; ``field`` + ``value``: exact match on a
    payload field; ``status=deleted`` lists deleted users (otherwise hidden)."""
    return await users.list_users(
        api_services(request),
        actor,
        pool_id,
        q=q,
        status=status,
        field=field,
        value=value,
        limit=limit,
        offset=offset,
    )


@post(BASE, responses=errors(403, 404, 422, 503, body=True), tags=TAGS)
async def create_user(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, data: JSONBody[NewUser]
) -> UserView:
    """Create a team member: ``active`` with a verified address and a password (or a
    set-password link by email), or ``new`` with an activation code by email."""
    return await users.create_user(api_services(request), actor, pool_id, data)


@get(ONE, responses=errors(404), tags=TAGS)
async def get_user(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, user_id: UserId
) -> UserView:
    return await users.get_user(api_services(request), actor, pool_id, user_id)


@patch(ONE, responses=errors(403, 404, 409, 422, body=True), tags=TAGS)
async def update_user(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    user_id: UserId,
    data: JSONBody[UserPatch],
) -> UserView:
    """Change payload and/or metadata, each validated against the pool's schemas."""
    return await users.update_user(api_services(request), actor, pool_id, user_id, data)


@delete(ONE, responses=errors(403, 404, 409), tags=TAGS)
async def delete_user(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, user_id: UserId
) -> None:
    """Delete: personal data removed, addresses freed, sessions ended; the audit trail stays."""
    await users.delete_user(api_services(request), actor, pool_id, user_id)


def _status_handler(action: Literal["activate", "deactivate", "reactivate"], doc: str) -> Any:
    @post(
        ONE + f"/{action}",
        status_code=200,
        responses=errors(403, 404, 409),
        tags=TAGS,
        name=f"user-{action}",
        operation_id=f"User{action.capitalize()}",
        description=doc,
    )
    async def change(
        request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, user_id: UserId
    ) -> UserView:
        return await users.change_status(api_services(request), actor, pool_id, user_id, action)

    return change


@post(ONE + "/resend-activation", status_code=202, responses=errors(403, 404, 409, 429), tags=TAGS)
async def resend_activation(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, user_id: UserId
) -> None:
    """Send a new activation code to a ``new`` user (at most once a minute)."""
    await users.resend_activation(api_services(request), actor, pool_id, user_id)


@post(ONE + "/revoke-sessions", status_code=200, responses=errors(403, 404), tags=TAGS)
async def revoke_sessions(
    request: Request[Any, Any, Any], actor: CurrentActor, pool_id: PoolId, user_id: UserId
) -> dict[str, int]:
    """End every session of the user; answers how many were ended."""
    count = await users.revoke_sessions(api_services(request), actor, pool_id, user_id)
    return {"revoked": count}


HANDLERS = [
    list_users,
    create_user,
    get_user,
    update_user,
    delete_user,
    _status_handler("activate", "new → active: the address counts as verified."),
    _status_handler("deactivate", "active → inactive: the user cannot log in; sessions end."),
    _status_handler("reactivate", "inactive → active."),
    resend_activation,
    revoke_sessions,
]
