"""``/api/admin/webhooks``: webhook endpoints, their secrets, delivery logs, resends and
test events (``widget_server.webhooks``).

Tenant admins reach every endpoint of the tenant; pool admins, pool viewers (read only)
and developers the endpoints of the pools in their scope; an app's endpoints need a
tenant-wide key. An endpoint outside the key's scope answers 404, exactly like one that
does not exist, and the attempt is in the audit log. A secret (``whsec_…``) is in the
answer of the create and of the rotation only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from widget_server.web.api.base import CurrentActor, api_services, errors
from widget_server.webhooks import deliveries, manage
from widget_server.webhooks.deliveries import DeliveryDetail, DeliveryView
from widget_server.webhooks.manage import EndpointPatch, EndpointSecret, EndpointView, NewEndpoint

EndpointId = Annotated[str, PathParameter(max_length=36)]
DeliveryId = Annotated[int, PathParameter(ge=1)]
OwnerParam = Annotated[str | None, QueryParameter(max_length=64)]
TAGS = ["webhooks"]
BASE = "/webhooks"
ONE = BASE + "/{endpoint_id:str}"
DELIVERY = ONE + "/deliveries/{delivery_id:int}"


class RotateSecret(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: How long the current secret keeps signing beside the new one: 0 to 604800 s
    #: (a week); default a day.
    grace_seconds: int | None = None


@get(BASE, responses=errors(403, 404), tags=TAGS)
async def list_endpoints(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: OwnerParam = None,
    app_id: OwnerParam = None,
) -> list[EndpointView]:
    """A pool's (``pool_id``) or an app's (``app_id``) endpoints; with neither, every
    endpoint the key may see."""
    return await manage.list_endpoints(api_services(request), actor, pool_id=pool_id, app_id=app_id)


@post(BASE, responses=errors(403, 404, 422, body=True), tags=TAGS)
async def create_endpoint(
    request: Request[Any, Any, Any], actor: CurrentActor, data: JSONBody[NewEndpoint]
) -> EndpointSecret:
    """Add an endpoint to one pool (``pool_id``) or one app (``app_id``). ``url`` must be
    ``https://`` and public (``http://localhost`` only in development);
    ``event_types`` empty means every type. The signing ``secret`` is in this answer
    only."""
    return await manage.create_endpoint(api_services(request), actor, data)


@get(ONE, responses=errors(403, 404), tags=TAGS)
async def get_endpoint(
    request: Request[Any, Any, Any], actor: CurrentActor, endpoint_id: EndpointId
) -> EndpointView:
    return await manage.get_endpoint(api_services(request), actor, endpoint_id)


@patch(ONE, responses=errors(403, 404, 422, body=True), tags=TAGS)
async def update_endpoint(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    endpoint_id: EndpointId,
    data: JSONBody[EndpointPatch],
) -> EndpointView:
    """Change the URL, description, event filter, or enable/disable; absent fields stay."""
    return await manage.update_endpoint(api_services(request), actor, endpoint_id, data)


@delete(ONE, responses=errors(403, 404), tags=TAGS)
async def delete_endpoint(
    request: Request[Any, Any, Any], actor: CurrentActor, endpoint_id: EndpointId
) -> None:
    """The endpoint and its delivery log go; nothing more is sent to it."""
    await manage.delete_endpoint(api_services(request), actor, endpoint_id)


@post(ONE + "/rotate-secret", status_code=200, responses=errors(403, 404, 422), tags=TAGS)
async def rotate_secret(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    endpoint_id: EndpointId,
    data: JSONBody[RotateSecret | None] = None,
) -> EndpointSecret:
    """A new signing secret, in this answer only. The current one keeps signing beside it
    for ``grace_seconds`` (default a day), so receivers can switch without a gap."""
    grace = data.grace_seconds if data is not None else None
    return await manage.rotate_secret(api_services(request), actor, endpoint_id, grace)


@get(ONE + "/deliveries", responses=errors(403, 404, 422), tags=TAGS)
async def list_deliveries(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    endpoint_id: EndpointId,
    status: Annotated[Literal["pending", "succeeded", "failed"] | None, QueryParameter()] = None,
    before_id: Annotated[int | None, QueryParameter(ge=1)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=deliveries.MAX_LIMIT)] = 50,
) -> list[DeliveryView]:
    """The delivery log, newest first; the next page with ``before_id`` = the smallest
    ``id`` of this one."""
    return await deliveries.list_deliveries(
        api_services(request), actor, endpoint_id, status=status, before_id=before_id, limit=limit
    )


@get(DELIVERY, responses=errors(403, 404), tags=TAGS)
async def get_delivery(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
) -> DeliveryDetail:
    """One delivery with its attempts. ``request_excerpt`` holds the user's data and is
    null for keys whose role may not read users."""
    return await deliveries.get_delivery(api_services(request), actor, endpoint_id, delivery_id)


@post(DELIVERY + "/resend", status_code=202, responses=errors(403, 404, 409), tags=TAGS)
async def resend(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
) -> DeliveryView:
    """Send the delivery's event again, as a new delivery with the same ``webhook-id``
    (receivers drop what they have seen). 409 while the endpoint is disabled."""
    return await deliveries.resend(api_services(request), actor, endpoint_id, delivery_id)


@post(ONE + "/test", status_code=202, responses=errors(403, 404, 409), tags=TAGS)
async def send_test(
    request: Request[Any, Any, Any], actor: CurrentActor, endpoint_id: EndpointId
) -> DeliveryView:
    """A ``webhook.test`` event to this endpoint only, whatever its filter."""
    return await deliveries.send_test(api_services(request), actor, endpoint_id)


HANDLERS = [
    list_endpoints,
    create_endpoint,
    get_endpoint,
    update_endpoint,
    delete_endpoint,
    rotate_secret,
    list_deliveries,
    get_delivery,
    resend,
    send_test,
]
