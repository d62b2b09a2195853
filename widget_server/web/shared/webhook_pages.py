"""Webhook endpoint pages, shared by the developer portal (``/developers/webhooks``) and
the operator portal (``/admin/pools/{pool}/webhooks``): the list with the form that adds
an endpoint, one endpoint (settings, on/off, secret rotation, test event, delivery log,
receiver snippets), and one delivery with its attempts and a resend.

Each surface supplies a ``Frame`` (who is signed in, how a page is drawn) and a
``Place`` (where the pages live, which owners an endpoint may have, which endpoints
belong there); the handlers stay in the surface, thin: CSRF, then one method here.
Every action goes through ``webhooks.manage`` / ``webhooks.deliveries`` (scope, role,
URL rules, audit), so an endpoint outside the caller's scope is a 404 here exactly as in
the API. A new or rotated secret is drawn into the answer of that POST only (200, not a
redirect: it is never stored in the clear, so it cannot be shown again).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
from litestar import Response

from widget_server.admin.access import Action, Actor
from widget_server.developers.webhook_snippets import (
    SECRET_VARIABLE,
    receiver_snippets,
    receiver_values,
)
from widget_server.errors import Conflict, InvalidInput, NotFound
from widget_server.messages import Msg, msg
from widget_server.services import Services
from widget_server.web.shared.console import Form, see_other
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


class Frame(Protocol):
    """A signed-in request of a portal."""

    @property
    def services(self) -> Services: ...

    @property
    def actor(self) -> Actor: ...

    def can(self, action: Action) -> bool: ...

    def page(
        self,
        template: str,
        *,
        status: int = 200,
        fragment: str | None = None,
        headers: Mapping[str, str] | None = None,
        folder: str = ...,
        **context: Any,
    ) -> Response[str]: ...


@dataclass(frozen=True)
class Place:
    """Where one surface's webhook pages live."""

    #: The list's URL; an endpoint is ``{base}/{id}``.
    base: str
    #: The page layout the templates extend.
    layout: str
    #: ``pool:<id>`` / ``app:<id>`` → label, in the order the owner picker offers them.
    owners: Mapping[str, str]
    #: The endpoints the list shows.
    endpoints: Callable[[], Awaitable[list[EndpointView]]]
    #: More for the templates (the operator portal's pool, for its crumbs and tabs).
    context: Mapping[str, Any] = field(default_factory=dict)
    #: The one owner new endpoints get here, whatever the form says (a pool's page).
    fixed_owner: str | None = None


def owner_key(endpoint: EndpointView) -> str:
    return f"pool:{endpoint.pool_id}" if endpoint.pool_id is not None else f"app:{endpoint.app_id}"


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


def notice(done: str | None) -> tuple[Msg, ...]:
    return (msg(NOTICES[done], "info"),) if done in NOTICES else ()


def grace_choice(form: Form) -> int:
    raw = text(form, "grace_seconds")
    return int(raw) if raw.isdigit() and len(raw) < 10 else -1


class WebhookPages:
    """The pages of one request, at one ``Place``."""

    def __init__(self, frame: Frame, place: Place) -> None:
        self.frame = frame
        self.place = place

    @property
    def _services(self) -> Services:
        return self.frame.services

    def _page(self, template: str, status: int = 200, **context: Any) -> Response[str]:
        return self.frame.page(
            template,
            status=status,
            folder="webhooks",
            layout=self.place.layout,
            hooks=self.place.base,
            may_write=self.frame.can("webhooks.write"),
            fixed_owner=self.place.fixed_owner,
            **self.place.context,
            **context,
        )

    async def endpoint(self, endpoint_id: str) -> EndpointView:
        """The endpoint, if it is the caller's (the service checks) and belongs to this
        place (an endpoint of another pool or an app is a 404 under this pool's URL)."""
        found = await manage.get_endpoint(self._services, self.frame.actor, endpoint_id)
        if owner_key(found) not in self.place.owners:
            raise NotFound(manage.TARGET)
        return found

    # --- the list ----------------------------------------------------------------------

    async def list_page(
        self,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, Sequence[Msg]] | None = None,
        alerts: Sequence[Msg] = (),
        *,
        status: int = 200,
    ) -> Response[str]:
        first = next(iter(self.place.owners), "")
        return self._page(
            "list.html",
            status,
            endpoints=await self.place.endpoints(),
            owners=self.place.owners,
            owner_key=owner_key,
            event_types=EVENT_TYPES,
            values=values or blank_endpoint(first),
            errors=errors or {},
            alerts=alerts,
            title="Webhooks",
        )

    async def create(self, form: Form) -> Response[str]:
        values = endpoint_form(form)
        if self.place.fixed_owner is not None:
            values["owner"] = self.place.fixed_owner
        errors: Errors = {}
        try:
            data = _settings(values) | _owner(values["owner"])
            new = convert(data, NewEndpoint, errors)
            created = await manage.create_endpoint(self._services, self.frame.actor, new)
        except InvalidInput as exc:
            fields, alerts = by_field(exc)
            return await self.list_page(values, _with_owner_errors(fields), alerts, status=422)
        return await self._shown_once(created, "webhook.created")

    async def _shown_once(self, made: EndpointSecret, message_id: str) -> Response[str]:
        until = made.endpoint.previous_secret_until
        params = {"until": until.strftime("%Y-%m-%d %H:%M UTC")} if until is not None else {}
        alert = msg(message_id, "info", **params)
        return await self.endpoint_page(made.endpoint, secret=made.secret, alerts=(alert,))

    # --- one endpoint ------------------------------------------------------------------

    async def endpoint_page(
        self,
        endpoint: EndpointView,
        *,
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, Sequence[Msg]] | None = None,
        alerts: Sequence[Msg] = (),
        secret: str | None = None,
        status_filter: str | None = None,
        status: int = 200,
    ) -> Response[str]:
        log = await deliveries.list_deliveries(
            self._services,
            self.frame.actor,
            endpoint.id,
            status=status_filter if status_filter in deliveries.STATUSES else None,
            limit=50,
        )
        snippets = receiver_snippets(
            receiver_values(endpoint.id, endpoint.url, endpoint.event_types)
        )
        key = owner_key(endpoint)
        return self._page(
            "endpoint.html",
            status,
            endpoint=endpoint,
            owner=self.place.owners.get(key, key),
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
            grace_active=self._grace_active(endpoint),
            title=endpoint.description or "Webhook endpoint",
        )

    def _grace_active(self, endpoint: EndpointView) -> datetime | None:
        until = endpoint.previous_secret_until
        return until if until is not None and until > self._services.clock.now() else None

    async def show(
        self, endpoint_id: str, status_filter: str | None, done: str | None
    ) -> Response[str]:
        endpoint = await self.endpoint(endpoint_id)
        return await self.endpoint_page(endpoint, status_filter=status_filter, alerts=notice(done))

    async def update(self, endpoint_id: str, form: Form) -> Response[Any]:
        await self.endpoint(endpoint_id)
        values = endpoint_form(form)
        errors: Errors = {}
        try:
            patch = convert(_settings(values), EndpointPatch, errors)
            await manage.update_endpoint(self._services, self.frame.actor, endpoint_id, patch)
        except InvalidInput as exc:
            endpoint = await self.endpoint(endpoint_id)
            fields, alerts = by_field(exc)
            return await self.endpoint_page(
                endpoint, values=values, errors=fields, alerts=alerts, status=422
            )
        return see_other(f"{self.place.base}/{endpoint_id}?done=saved")

    async def enabled(self, endpoint_id: str, form: Form) -> Response[Any]:
        """Turn deliveries on or off (``enabled`` = ``on`` or absent); nothing is deleted."""
        await self.endpoint(endpoint_id)
        patch = EndpointPatch(enabled=checked(form, "enabled"))
        await manage.update_endpoint(self._services, self.frame.actor, endpoint_id, patch)
        return see_other(f"{self.place.base}/{endpoint_id}?done=saved")

    async def delete(self, endpoint_id: str) -> Response[Any]:
        await self.endpoint(endpoint_id)
        await manage.delete_endpoint(self._services, self.frame.actor, endpoint_id)
        return see_other(f"{self.place.base}?done=deleted")

    async def rotate(self, endpoint_id: str, form: Form) -> Response[str]:
        endpoint = await self.endpoint(endpoint_id)
        try:
            rotated = await manage.rotate_secret(
                self._services, self.frame.actor, endpoint_id, grace_choice(form)
            )
        except InvalidInput as exc:
            fields, alerts = by_field(exc)
            return await self.endpoint_page(endpoint, errors=fields, alerts=alerts, status=422)
        return await self._shown_once(rotated, "webhook.rotated")

    async def send_test(self, endpoint_id: str) -> Response[Any]:
        await self.endpoint(endpoint_id)
        try:
            await deliveries.send_test(self._services, self.frame.actor, endpoint_id)
        except Conflict as exc:
            return await self._refused(endpoint_id, exc)
        return see_other(f"{self.place.base}/{endpoint_id}?done=test")

    async def _refused(self, endpoint_id: str, exc: Conflict) -> Response[str]:
        endpoint = await self.endpoint(endpoint_id)
        return await self.endpoint_page(endpoint, alerts=(exc.message,), status=409)

    # --- deliveries --------------------------------------------------------------------

    async def delivery(self, endpoint_id: str, delivery_id: int) -> Response[str]:
        endpoint = await self.endpoint(endpoint_id)
        detail = await deliveries.get_delivery(
            self._services, self.frame.actor, endpoint_id, delivery_id
        )
        return self._page(
            "delivery.html",
            endpoint=endpoint,
            detail=detail,
            alerts=(),
            title=f"Delivery {detail.delivery.id}",
        )

    async def resend(self, endpoint_id: str, delivery_id: int) -> Response[Any]:
        await self.endpoint(endpoint_id)
        try:
            await deliveries.resend(self._services, self.frame.actor, endpoint_id, delivery_id)
        except Conflict as exc:
            return await self._refused(endpoint_id, exc)
        return see_other(f"{self.place.base}/{endpoint_id}?done=resent")
