"""The developer portal's webhook pages: the endpoints of one's pools (and, for a
tenant-wide developer, of one's apps), each with its settings, secret rotation, test
event, delivery log with resend, and receiver snippets made from its real values.

Every action goes through ``webhooks.manage`` / ``webhooks.deliveries`` (scope, role,
URL rules, audit): an endpoint outside the developer's scope is a 404 here exactly as
in the API. A new or rotated secret is drawn into the answer of that POST only (200, not
a redirect: it is never stored in the clear, so it cannot be shown again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.params import PathParameter, QueryParameter

from widget_server.admin.access import tenant_wide
from widget_server.admin.apps import AppDetail, list_apps
from widget_server.developers.webhook_snippets import (
    SECRET_VARIABLE,
    receiver_snippets,
    receiver_values,
)
from widget_server.errors import Conflict, InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.developers.frame import BASE, DevPortal, form_of, signed_in
from widget_server.web.shared.console import AnyRequest, see_other
from widget_server.web.shared.forms import Errors, by_field, checked, convert, text
from widget_server.webhooks import deliveries, manage
from widget_server.webhooks.events import EVENT_TYPES
from widget_server.webhooks.manage import (
    DEFAULT_GRACE,
    EndpointPatch,
    EndpointSecret,
    EndpointView,
    NewEndpoint,
)

EndpointId = Annotated[str, PathParameter(max_length=36)]
DeliveryId = Annotated[int, PathParameter(ge=1)]
StatusFilter = Annotated[str | None, QueryParameter(max_length=16)]
HOOKS = BASE + "/webhooks"
ONE = HOOKS + "/{endpoint_id:str}"
#: Grace periods offered when rotating a secret (seconds, label); the API takes any.
GRACE_CHOICES = (
    (0, "none: the old secret stops now"),
    (3600, "1 hour"),
    (int(DEFAULT_GRACE.total_seconds()), "24 hours"),
    (604800, "7 days"),
)
#: Where the "after this action" notices come from (a redirect's ``?done=``).
NOTICES = {
    "test": "webhook.test_sent",
    "resent": "webhook.resent",
    "saved": "admin.saved",
    "deleted": "webhook.deleted",
}


# --- forms ------------------------------------------------------------------------------


def blank_endpoint(owner: str = "") -> dict[str, Any]:
    return {"owner": owner, "url": "", "description": "", "event_types": []}


def endpoint_form(form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    return {
        "owner": text(form, "owner"),
        "url": text(form, "url"),
        "description": text(form, "description"),
        "event_types": [e for e in form.get("event_types", []) if e],
    }


def _owner(owner: str) -> dict[str, str | None]:
    """``pool:<id>`` or ``app:<id>`` as the service's two fields (neither if malformed:
    the service says ``webhook.owner``)."""
    kind, _, ident = owner.partition(":")
    return {
        "pool_id": ident if kind == "pool" and ident else None,
        "app_id": ident if kind == "app" and ident else None,
    }


def _settings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "url": values["url"],
        "description": values["description"],
        "event_types": values["event_types"],
    }


def _with_owner_errors(fields: Mapping[str, Sequence[Msg]]) -> dict[str, Sequence[Msg]]:
    """The service names ``pool_id`` or ``app_id``; the form has one ``owner`` control."""
    found = dict(fields)
    owner = [*found.pop("pool_id", ()), *found.pop("app_id", ())]
    if owner:
        found["owner"] = owner
    return found


# --- what the pages show ----------------------------------------------------------------


async def _apps(portal: DevPortal) -> list[AppDetail]:
    """Apps whose endpoints this developer may manage: an app spans pools, so only a
    tenant-wide principal has them."""
    if not tenant_wide(portal.session.principal):
        return []
    return [a for a in await list_apps(portal.services, portal.actor) if a.revoked_at is None]


async def _endpoints(portal: DevPortal, apps: Sequence[AppDetail]) -> list[EndpointView]:
    found: list[EndpointView] = []
    for pool in portal.pools:
        found += await manage.list_endpoints(portal.services, portal.actor, pool_id=pool.id)
    for app in apps:
        found += await manage.list_endpoints(portal.services, portal.actor, app_id=app.id)
    return found


def _owner_names(portal: DevPortal, apps: Sequence[AppDetail]) -> dict[str, str]:
    names = {f"pool:{p.id}": f"Pool · {p.name}" for p in portal.pools}
    return names | {f"app:{a.id}": f"App · {a.name}" for a in apps}


def owner_key(endpoint: EndpointView) -> str:
    return f"pool:{endpoint.pool_id}" if endpoint.pool_id is not None else f"app:{endpoint.app_id}"


async def _list_page(
    portal: DevPortal,
    values: Mapping[str, Any],
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    *,
    status: int = 200,
) -> Any:
    apps = await _apps(portal)
    return portal.page(
        "webhooks.html",
        status=status,
        endpoints=await _endpoints(portal, apps),
        owners=_owner_names(portal, apps),
        owner_key=owner_key,
        event_types=EVENT_TYPES,
        values=values,
        errors=errors or {},
        alerts=alerts,
        title="Webhooks",
    )


async def _endpoint_page(
    portal: DevPortal,
    endpoint: EndpointView,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, Sequence[Msg]] | None = None,
    alerts: Sequence[Msg] = (),
    secret: str | None = None,
    status_filter: str | None = None,
    status: int = 200,
) -> Any:
    log = await deliveries.list_deliveries(
        portal.services,
        portal.actor,
        endpoint.id,
        status=status_filter if status_filter in deliveries.STATUSES else None,
        limit=50,
    )
    apps = await _apps(portal)
    snippets = receiver_snippets(receiver_values(endpoint.id, endpoint.url, endpoint.event_types))
    return portal.page(
        "webhook.html",
        status=status,
        endpoint=endpoint,
        owner=_owner_names(portal, apps).get(owner_key(endpoint), owner_key(endpoint)),
        values=values or _settings(msgspec.to_builtins(endpoint)),
        errors=errors or {},
        alerts=alerts,
        secret=secret,
        deliveries=log,
        status_filter=status_filter or "",
        statuses=deliveries.STATUSES,
        event_types=EVENT_TYPES,
        grace_choices=GRACE_CHOICES,
        snippets=snippets,
        secret_variable=SECRET_VARIABLE,
        grace_active=_grace_active(portal, endpoint),
        title=endpoint.description or "Webhook endpoint",
    )


def _grace_active(portal: DevPortal, endpoint: EndpointView) -> datetime | None:
    until = endpoint.previous_secret_until
    return until if until is not None and until > portal.services.clock.now() else None


def _notice(done: str | None) -> tuple[Msg, ...]:
    return (msg(NOTICES[done], "info"),) if done in NOTICES else ()


# --- list and create --------------------------------------------------------------------


@get(HOOKS)
async def webhooks_page(
    request: AnyRequest, done: Annotated[str | None, QueryParameter(max_length=16)] = None
) -> Any:
    portal = await signed_in(request)
    first = next(iter(_owner_names(portal, await _apps(portal))), "")
    return await _list_page(portal, blank_endpoint(first), alerts=_notice(done))


@post(HOOKS, status_code=200)
async def create_submit(request: AnyRequest) -> Any:
    portal = await signed_in(request)
    values = endpoint_form(await form_of(portal))
    errors: Errors = {}
    try:
        data = _settings(values) | _owner(values["owner"])
        new = convert(data, NewEndpoint, errors)
        created = await manage.create_endpoint(portal.services, portal.actor, new)
    except InvalidInput as exc:
        fields, alerts = by_field(exc)
        return await _list_page(portal, values, _with_owner_errors(fields), alerts, status=422)
    return await _shown_once(portal, created, "webhook.created")


async def _shown_once(portal: DevPortal, made: EndpointSecret, message_id: str) -> Any:
    until = made.endpoint.previous_secret_until
    params = {"until": until.strftime("%Y-%m-%d %H:%M UTC")} if until is not None else {}
    alert = msg(message_id, "info", **params)
    return await _endpoint_page(portal, made.endpoint, secret=made.secret, alerts=(alert,))


# --- one endpoint -----------------------------------------------------------------------


@get(ONE)
async def endpoint_page(
    request: AnyRequest,
    endpoint_id: EndpointId,
    status: StatusFilter = None,
    done: Annotated[str | None, QueryParameter(max_length=16)] = None,
) -> Any:
    portal = await signed_in(request)
    endpoint = await manage.get_endpoint(portal.services, portal.actor, endpoint_id)
    return await _endpoint_page(portal, endpoint, status_filter=status, alerts=_notice(done))


@post(ONE, status_code=200)
async def update_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    values = endpoint_form(await form_of(portal))
    errors: Errors = {}
    try:
        patch = convert(_settings(values), EndpointPatch, errors)
        await manage.update_endpoint(portal.services, portal.actor, endpoint_id, patch)
    except InvalidInput as exc:
        endpoint = await manage.get_endpoint(portal.services, portal.actor, endpoint_id)
        fields, alerts = by_field(exc)
        return await _endpoint_page(
            portal, endpoint, values=values, errors=fields, alerts=alerts, status=422
        )
    return see_other(f"{HOOKS}/{endpoint_id}?done=saved")


@post(ONE + "/enabled", status_code=200)
async def enabled_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    """Turn deliveries on or off (``enabled`` = ``on`` or absent); nothing is deleted."""
    portal = await signed_in(request)
    form = await form_of(portal)
    patch = EndpointPatch(enabled=checked(form, "enabled"))
    await manage.update_endpoint(portal.services, portal.actor, endpoint_id, patch)
    return see_other(f"{HOOKS}/{endpoint_id}?done=saved")


@post(ONE + "/delete", status_code=200)
async def delete_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    await manage.delete_endpoint(portal.services, portal.actor, endpoint_id)
    return see_other(f"{HOOKS}?done=deleted")


@post(ONE + "/rotate-secret", status_code=200)
async def rotate_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    form = await form_of(portal)
    raw = text(form, "grace_seconds")
    grace = int(raw) if raw.isdigit() and len(raw) < 10 else -1
    try:
        rotated = await manage.rotate_secret(portal.services, portal.actor, endpoint_id, grace)
    except InvalidInput as exc:
        endpoint = await manage.get_endpoint(portal.services, portal.actor, endpoint_id)
        fields, alerts = by_field(exc)
        return await _endpoint_page(portal, endpoint, errors=fields, alerts=alerts, status=422)
    return await _shown_once(portal, rotated, "webhook.rotated")


@post(ONE + "/test", status_code=200)
async def test_submit(request: AnyRequest, endpoint_id: EndpointId) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    try:
        await deliveries.send_test(portal.services, portal.actor, endpoint_id)
    except Conflict as exc:
        return await _refused(portal, endpoint_id, exc)
    return see_other(f"{HOOKS}/{endpoint_id}?done=test")


async def _refused(portal: DevPortal, endpoint_id: str, exc: Conflict) -> Any:
    endpoint = await manage.get_endpoint(portal.services, portal.actor, endpoint_id)
    return await _endpoint_page(portal, endpoint, alerts=(exc.message,), status=409)


# --- deliveries -------------------------------------------------------------------------


@get(ONE + "/deliveries/{delivery_id:int}")
async def delivery_page(
    request: AnyRequest, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Any:
    portal = await signed_in(request)
    endpoint = await manage.get_endpoint(portal.services, portal.actor, endpoint_id)
    detail = await deliveries.get_delivery(portal.services, portal.actor, endpoint_id, delivery_id)
    return portal.page(
        "webhook_delivery.html",
        endpoint=endpoint,
        detail=detail,
        alerts=(),
        title=f"Delivery {detail.delivery.id}",
    )


@post(ONE + "/deliveries/{delivery_id:int}/resend", status_code=200)
async def resend_submit(
    request: AnyRequest, endpoint_id: EndpointId, delivery_id: DeliveryId
) -> Any:
    portal = await signed_in(request)
    await form_of(portal)
    try:
        await deliveries.resend(portal.services, portal.actor, endpoint_id, delivery_id)
    except Conflict as exc:
        return await _refused(portal, endpoint_id, exc)
    return see_other(f"{HOOKS}/{endpoint_id}?done=resent")


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
