"""What every admin API handler shares: the caller (``actor``) and the error body. The
status of a domain error comes from ``shared.errors.explain``, as on every surface.

=====================  ======  =============================================
error                  status  body ``errors[]``
=====================  ======  =============================================
(malformed JSON/body)  400     ``admin.invalid_body`` at the offending field
                               (checked after the key: ``bodies.admit``)
NotAuthenticated       401     ``admin.unauthenticated`` (+ WWW-Authenticate)
Forbidden              403     ``admin.forbidden``
NotFound               404     ``admin.not_found`` — also outside your scope
Conflict               409     the conflict's message id
InvalidInput           422     one entry per message, by field
CodeError/ResendTooSoon 429    with ``Retry-After``
Overloaded             503     ``server.busy`` + ``Retry-After``
=====================  ======  =============================================
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from widget_server.admin.access import Actor
from widget_server.errors import WidgetError
from widget_server.messages import Msg, msg
from widget_server.services import Services
from widget_server.web.api.bodies import admitted_actor, authenticate
from widget_server.web.shared.context import web_context
from widget_server.web.shared.errors import explain

#: The caller of an admin API handler, from its API key (``provide_actor``).
CurrentActor = NamedDependency[Actor]


class ErrorItem(msgspec.Struct, frozen=True, kw_only=True):
    #: Stable message id; the text is English for convenience, the id is the contract.
    id: str
    #: The request field the message is about; null for the request as a whole.
    field: str | None
    params: dict[str, str | int]
    message: str


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    errors: list[ErrorItem]


API_PATH = "/api/admin"

_DESCRIPTIONS = {
    400: "Malformed request: not JSON, wrong types, unknown fields",
    401: "Missing, unknown or revoked API key",
    403: "The key's role does not allow this",
    404: "Not found, or outside the key's scope",
    409: "The object's state forbids this",
    413: "The body is larger than the server accepts (WIDGET_MAX_BODY_BYTES)",
    422: "Invalid values, by field",
    429: "Too soon; see Retry-After",
    503: "Busy hashing passwords; see Retry-After",
}


def errors(*statuses: int, body: bool = False) -> dict[int, ResponseSpec]:
    """OpenAPI documentation of the error answers a handler can give: 400 and 401 always,
    413 for handlers that read a body."""
    every = {400, 401, *statuses} | ({413} if body else set())
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_DESCRIPTIONS[status])
        for status in sorted(every)
    }


async def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    """The caller the router's guard (``bodies.admit``) authenticated before the body."""
    return admitted_actor(request) or await authenticate(request)


def api_services(request: Request[Any, Any, Any]) -> Services:
    return web_context(request).services


def _item(message: Msg, field: str | None) -> ErrorItem:
    return ErrorItem(
        id=message.id, field=field or None, params=message.params, message=message.text()
    )


def domain_error(request: Request[Any, Any, Any], exc: WidgetError) -> Response[ErrorBody]:
    said = explain(exc)
    status = said.status
    items = [_item(m, None) for m in said.alerts]
    items += [_item(m, field) for field, ms in said.errors.items() for m in ms]
    headers = {"cache-control": "no-store", **said.headers}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="widget-server admin"'
    return Response(ErrorBody(status=status, errors=items), status_code=status, headers=headers)


def invalid_body(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """Litestar refused the body or a parameter (msgspec decoding): one item per problem."""
    items = []
    for detail in exc.extra if isinstance(exc.extra, list) else []:
        key = detail.get("key") if isinstance(detail, dict) else None
        text = str(detail.get("message", "")) if isinstance(detail, dict) else str(detail)
        message = msg("admin.invalid_body", "error", detail=text[:300])
        items.append(_item(message, str(key) if key else None))
    if not items:
        items.append(_item(msg("admin.invalid_body", "error", detail=str(exc.detail)[:300]), None))
    return Response(
        ErrorBody(status=400, errors=items),
        status_code=400,
        headers={"cache-control": "no-store"},
    )


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Other framework answers (405, 413, …) in the same shape."""
    status = exc.status_code
    message = msg("admin.http_error", "error", detail=str(exc.detail)[:300])
    return Response(ErrorBody(status=status, errors=[_item(message, None)]), status_code=status)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    WidgetError: domain_error,
    ValidationException: invalid_body,
    HTTPException: http_error,
}
