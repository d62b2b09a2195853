"""The admin API's gate: the API key first, then the body, before any handler or decoder.

Litestar decodes a handler's ``data`` while it resolves the handler's arguments, before
its dependencies, so a key checked in a dependency came after the body was parsed: an
anonymous caller could make the server parse anything. ``admit`` is the router's guard
instead (guards run before arguments are resolved):

1. the key (``admin.unauthenticated`` otherwise, without reading the body);
2. the body, when one was sent to a handler that writes: at most
   ``Settings.max_body_bytes`` (413), valid UTF-8, well-formed JSON without lone
   surrogates, at most ``MAX_JSON_DEPTH`` levels of arrays and objects, no NUL in any
   string or key (PostgreSQL text cannot hold one). Anything else is ``admin.invalid_body``
   (400) in the standard shape: msgspec's decoder raises ``RecursionError`` and
   ``UnicodeDecodeError`` for the first two, which the framework answered with 500.

Wrong types and unknown fields are then the handler's typed decoding's (400 as well).
A handler that takes a file as its raw body (an image, an import) says so with
``opt={RAW_BODY: True}``: its body is not JSON, so only the key is checked here, and the
handler bounds and checks the file itself.
"""

from __future__ import annotations

from typing import Any, NoReturn

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import ValidationException
from litestar.handlers.base import BaseRouteHandler

from widget_server.admin.access import Actor, authenticate_api_key
from widget_server.errors import NotAuthenticated
from widget_server.web.shared.context import web_context
from widget_server.web.shared.request_io import client_ip

#: Deepest nesting of arrays and objects a body may have. The deepest document the API
#: takes is a JSON Schema (``forms/safety.py`` caps those at 32 levels) inside the body.
MAX_JSON_DEPTH = 40
_STATE_KEY = "admin_actor"
_WRITES = frozenset({"POST", "PUT", "PATCH"})
#: The ``opt`` key of a handler whose body is a file, not JSON.
RAW_BODY = "raw_body"


async def admit(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The router's guard: the caller's key, then (for writes of JSON) the body's shape."""
    if not isinstance(connection, Request):
        raise NotAuthenticated()  # the API has no WebSocket routes
    connection.state[_STATE_KEY] = await authenticate(connection)
    if connection.method in _WRITES and not handler.opt.get(RAW_BODY):
        body = await connection.body()
        if body:
            check_json(body)


async def authenticate(request: Request[Any, Any, Any]) -> Actor:
    services = web_context(request).services
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated()
    principal = await authenticate_api_key(
        services.db, services.settings.secret_key, token.strip(), services.clock.now()
    )
    return Actor(principal=principal, ip=client_ip(request))


def admitted_actor(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor | None:
    """The actor ``admit`` authenticated for this request, if it ran."""
    actor = connection.state.get(_STATE_KEY)
    return actor if isinstance(actor, Actor) else None


def check_json(body: bytes) -> None:
    """Refuse a body that is not UTF-8, not JSON, too deep or holds a NUL (400)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        _refuse(f"the body is not valid UTF-8 (byte {exc.start})")
    try:
        document = msgspec.json.decode(body)
    except RecursionError:
        _refuse(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    except msgspec.DecodeError as exc:
        _refuse(f"the body is not valid JSON: {exc}")
    _check_tree(document)


def _check_tree(document: Any) -> None:
    """Depth and NUL over the decoded tree, without recursion (its depth is the question)."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if "\x00" in node:
                _refuse("a string holds a NUL character")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth + 1 > MAX_JSON_DEPTH:
            _refuse(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children)


def _refuse(detail: str) -> NoReturn:
    raise ValidationException(detail=detail, extra=[{"key": None, "message": detail}])
