"""A pool's "Webhooks" tab in the operator portal: tenant admins (every pool), pool admins
(their pool) and pool viewers (their pool, read only) see the pool's webhook endpoints,
add, change, disable and delete them, rotate a secret, send a test event, read the
delivery log and resend a delivery.

The pages are the developer portal's (``web/shared/webhook_pages.py``), placed under
``/admin/pools/{pool}/webhooks``; every action goes through ``webhooks.manage`` and
``webhooks.deliveries``, so scope, role, URL rules and the audit log are the API's. A
pool outside the person's scope is a 404 (audited) before anything else; an endpoint
of another pool or of an app is a 404 under this pool's URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.guard import guarded_pool
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.portal_frame import BASE, Portal, form_of, signed_in
from widget_server.web.shared.webhook_pages import Place, WebhookPages, notice
from widget_server.webhooks import manage
from widget_server.webhooks.manage import EndpointView

PoolId = Annotated[str, PathParameter(max_length=64)]
EndpointId = Annotated[str, PathParameter(max_length=36)]
DeliveryId = Annotated[int, PathParameter(ge=1)]
StatusFilter = Annotated[str | None, QueryParameter(max_length=16)]
Done = Annotated[str | None, QueryParameter(max_length=16)]
HOOKS = BASE + "/pools/{pool_id:str}/webhooks"
ONE = HOOKS + "/{endpoint_id:str}"


async def _pages(portal: Portal, pool_id: str) -> WebhookPages:
    pool = await guarded_pool(
        portal.services,
        portal.actor,
        "webhooks.read",
        pool_id,
        target_type=manage.TARGET,
    )
    owner = f"pool:{pool.id}"

    async def endpoints() -> list[EndpointView]:
        return await manage.list_endpoints(portal.services, portal.actor, pool_id=pool.id)

    place = Place(
        base=f"{BASE}/pools/{pool.id}/webhooks",
        layout="admin/layout.html",
        owners={owner: f"Pool · {pool.name}"},
        endpoints=endpoints,
        context={"pool": pool},
        fixed_owner=owner,
    )
    return WebhookPages(portal, place)


@get(HOOKS)
async def webhooks_page(request: AnyRequest, pool_id: PoolId, done: Done = None) -> Any:
    pages = await _pages(await signed_in(request), pool_id)
    return await pages.list_page(alerts=notice(done))


@post(HOOKS, status_code=200)
async def create_submit(request: AnyRequest, pool_id: PoolId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal, pool_id)).create(form)


@get(ONE)
async def endpoint_page(
    request: AnyRequest,
    pool_id: PoolId,
    endpoint_id: EndpointId,
    status: StatusFilter = None,
    done: Done = None,
) -> Any:
    pages = await _pages(await signed_in(request), pool_id)
    return await pages.show(endpoint_id, status, done)


@post(ONE, status_code=200)
async def update_submit(request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal, pool_id)).update(endpoint_id, form)


@post(ONE + "/enabled", status_code=200)
async def enabled_submit(request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal, pool_id)).enabled(endpoint_id, form)


@post(ONE + "/delete", status_code=200)
async def delete_submit(request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    return await (await _pages(portal, pool_id)).delete(endpoint_id)


@post(ONE + "/rotate-secret", status_code=200)
async def rotate_submit(request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal, pool_id)).rotate(endpoint_id, form)


@post(ONE + "/test", status_code=200)
async def test_submit(request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    return await (await _pages(portal, pool_id)).send_test(endpoint_id)


@get(ONE + "/deliveries/{delivery_id:int}")
async def delivery_page(
    request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Any:
    pages = await _pages(await signed_in(request), pool_id)
    return await pages.delivery(endpoint_id, delivery_id)


@post(ONE + "/deliveries/{delivery_id:int}/resend", status_code=200)
async def resend_submit(
    request: AnyRequest, pool_id: PoolId, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    return await (await _pages(portal, pool_id)).resend(endpoint_id, delivery_id)


HANDLERS = [
    webhooks_page,
    create_submit,
    endpoint_page,
    update_submit,
    enabled_submit,
    delete_submit,
    rotate_submit,
    test_submit,
    delivery_page,
    resend_submit,
]
