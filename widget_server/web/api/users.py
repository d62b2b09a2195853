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
from widget_server.users.search import UserSearch
from widget_server.users.views import UserPage, UserView
from widget_server.web.api.base import CurrentActor, api_services, errors

PoolId = Annotated[str, PathParameter(max_length=64)]
UserId = Annotated[str, PathParameter(max_length=36)]
TAGS = ["users"]
BASE = "/pools/{pool_id:str}/users"
ONE = BASE + "/{user_id:str}"


Sort = Literal[
    "created",
    "-created",
    "activated",
    "-activated",
    "last_login",
    "-last_login",
    "address",
    "-address",
    "name",
    "-name",
]
Day = Annotated[str | None, QueryParameter(max_length=40)]


@get(BASE, responses=errors(400, 404, 422), tags=TAGS)
async def list_users(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: PoolId,
    q: Annotated[str | None, QueryParameter(max_length=320)] = None,
    prefix: Annotated[str | None, QueryParameter(max_length=320)] = None,
    name: Annotated[str | None, QueryParameter(max_length=320)] = None,
    status: Annotated[
        Literal["new", "active", "inactive", "deleted"] | None, QueryParameter()
    ] = None,
    field: Annotated[str | None, QueryParameter(max_length=64)] = None,
    value: Annotated[str | None, QueryParameter(max_length=1000)] = None,
    created_from: Day = None,
    created_to: Day = None,
    activated_from: Day = None,
    activated_to: Day = None,
    sort: Annotated[Sort, QueryParameter()] = "-created",
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, QueryParameter(max_length=1200)] = None,
    offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    """Search a pool's users, one page at a time.

    Filters: ``q`` part of an address, ``prefix`` start of an address, ``name`` part of
    the name; ``field`` + ``value``: part of a field the schema marks ``x-searchable``
    (any case), the exact value of another payload field; ``status`` (``deleted`` lists
    deleted users, otherwise hidden); ``created_from``/``created_to``,
    ``activated_from``/``activated_to`` (``YYYY-MM-DD``, whole days UTC, or ISO 8601).
    ``sort``: ``created``, ``activated``, ``last_login``, ``address``, ``name``; a
    leading ``-`` for descending. Pages: pass ``next_cursor``, ``prev_cursor`` or
    ``last_cursor`` of the answer as ``cursor`` (same filters and sort); a cursor that is
    not one of ours, or of another sort, is 400 ``admin.bad_cursor``. ``total`` is exact
    up to 1,000 (``total_kind``: ``exact``), else an estimate. ``offset`` is kept for old
    clients and reads every row before the page: use cursors."""
    search = UserSearch(
        q=q,
        prefix=prefix,
        name=name,
        status=status,
        field=field,
        value=value,
        created_from=created_from,
        created_to=created_to,
        activated_from=activated_from,
        activated_to=activated_to,
        sort=sort,
        limit=limit,
        cursor=cursor,
        offset=offset,
    )
    return await users.list_users(api_services(request), actor, pool_id, search)


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
