"""The developer portal's webhook pages: the endpoints of one's pools (and, for a
tenant-wide principal, of one's apps), each with its settings, secret rotation, test
event, delivery log with resend, and receiver snippets made from its real values.

The pages themselves are ``web/shared/webhook_pages.py`` (the operator portal shows the
same ones under each pool); this module says where they live here and checks CSRF.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.access import tenant_wide
from widget_server.admin.apps import AppDetail, list_apps
from widget_server.web.developers.frame import BASE, DevPortal, form_of, signed_in
from widget_server.web.shared.console import AnyRequest
from widget_server.web.shared.webhook_pages import Place, WebhookPages, notice
from widget_server.webhooks import manage
from widget_server.webhooks.manage import EndpointView

EndpointId = Annotated[str, PathParameter(max_length=36)]
DeliveryId = Annotated[int, PathParameter(ge=1)]
StatusFilter = Annotated[str | None, QueryParameter(max_length=16)]
Done = Annotated[str | None, QueryParameter(max_length=16)]
HOOKS = BASE + "/webhooks"
ONE = HOOKS + "/{endpoint_id:str}"


async def _apps(portal: DevPortal) -> list[AppDetail]:
    """Apps whose endpoints this principal may manage: an app spans pools, so only a
    tenant-wide principal has them."""
    if not tenant_wide(portal.session.principal):
        return []
    return [a for a in await list_apps(portal.services, portal.actor) if a.revoked_at is None]


async def _pages(portal: DevPortal) -> WebhookPages:
    apps = await _apps(portal)
    owners = {f"pool:{p.id}": f"Pool · {p.name}" for p in portal.pools}
    owners |= {f"app:{a.id}": f"App · {a.name}" for a in apps}

    async def endpoints() -> list[EndpointView]:
        found: list[EndpointView] = []
        for pool in portal.pools:
            found += await manage.list_endpoints(portal.services, portal.actor, pool_id=pool.id)
        for app in apps:
            found += await manage.list_endpoints(portal.services, portal.actor, app_id=app.id)
        return found

    place = Place(base=HOOKS, layout="developers/layout.html", owners=owners, endpoints=endpoints)
    return WebhookPages(portal, place)


@get(HOOKS)
async def webhooks_page(request: AnyRequest, done: Done = None) -> Any:
    pages = await _pages(await signed_in(request))
    return await pages.list_page(alerts=notice(done))


@post(HOOKS, status_code=200)
async def create_submit(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal)).create(form)


@get(ONE)
async def endpoint_page(
    request: AnyRequest, endpoint_id: EndpointId, status: StatusFilter = None, done: Done = None
) -> Any:
    pages = await _pages(await signed_in(request))
    return await pages.show(endpoint_id, status, done)


@post(ONE, status_code=200)
async def update_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal)).update(endpoint_id, form)


@post(ONE + "/enabled", status_code=200)
async def enabled_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal)).enabled(endpoint_id, form)


@post(ONE + "/delete", status_code=200)
async def delete_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    return await (await _pages(portal)).delete(endpoint_id)


@post(ONE + "/rotate-secret", status_code=200)
async def rotate_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)  # CSRF before anything is looked up
    return await (await _pages(portal)).rotate(endpoint_id, form)


@post(ONE + "/test", status_code=200)
async def test_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    return await (await _pages(portal)).send_test(endpoint_id)


@get(ONE + "/deliveries/{delivery_id:int}")
async def delivery_page(
    request: AnyRequest, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Any:
    pages = await _pages(await signed_in(request))
    return await pages.delivery(endpoint_id, delivery_id)


@post(ONE + "/deliveries/{delivery_id:int}/resend", status_code=200)
async def resend_submit(
    request: AnyRequest, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    return await (await _pages(portal)).resend(endpoint_id, delivery_id)


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
