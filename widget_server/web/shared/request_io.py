"""Reading a request: its headers and posted form fields (cheaply, and without keeping
them), what kind of request it is (htmx, a tab of its own), and decoding a form into a
strict struct.

``Request.form()`` parses a url-encoded body through an ``lru_cache`` keyed on the body
(Litestar's ``parse_url_encoded_form_data``, 1,024 entries per process): every password,
code and CSRF token a widget form posts would stay in memory, parsed, until 1,024 other
forms pushed it out. ``form_fields`` parses the body itself and keeps nothing; it also
skips the multi-dict Litestar builds per request (a registration's POST spent ~8 % of
its event-loop CPU in ``form()``).

Text is UTF-8 or nothing: a name or value whose bytes are not UTF-8 is refused
(``MalformedInput``, ``form.invalid_utf8`` on that field, 400) instead of being decoded
with U+FFFD, which turned different byte strings into the same stored address.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import unquote_to_bytes, urlencode

import msgspec
from litestar import Request

from widget_server.errors import InvalidInput, MalformedInput
from widget_server.messages import msg

T = TypeVar("T")

URL_ENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def header(request: Request[Any, Any, Any], name: bytes) -> str | None:
    """The first value of header ``name`` (lower case, as ASGI gives names), read off the
    scope: the form's GET reads three headers, and building ``request.headers`` for them
    was ~5 % of its CPU."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def form_fields(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    """The posted fields, each name with its values in the order sent.

    A url-encoded body (what every widget form sends) is parsed here; a multipart one
    goes to Litestar, whose multipart parser keeps nothing; any other body has no fields.
    """
    media = (header(request, b"content-type") or "").partition(";")[0].strip().lower()
    if media == URL_ENCODED:
        return parse_url_encoded(await request.body())
    if media == MULTIPART:
        try:
            form = await request.form()
        except (UnicodeDecodeError, LookupError):
            # Litestar decodes each part with the charset it names (UTF-8 by default),
            # strictly; an unknown charset is a LookupError. Which part, it does not say.
            raise MalformedInput({"": [msg("form.invalid_utf8", field="")]}) from None
        # An uploaded file stays an UploadFile, which the decoders refuse as not text.
        return {name: list(form.getall(name)) for name in form}
    return {}


def parse_url_encoded(body: bytes) -> dict[str, list[str]]:
    """``application/x-www-form-urlencoded`` as the WHATWG URL standard reads it (``&``
    between pairs, ``+`` for a space, %-escapes), every name and value strict UTF-8."""
    fields: dict[str, list[str]] = {}
    for pair in body.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = _text(raw_name, None)
        fields.setdefault(name, []).append(_text(raw_value, name))
    return fields


def _text(raw: bytes, field: str | None) -> str:
    try:
        return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        # A name that is not text is named by its escaped bytes, cut short.
        where = field if field is not None else raw.decode("ascii", "replace")[:60]
        raise MalformedInput({where: [msg("form.invalid_utf8", field=where[:60])]}) from None


def first(fields: dict[str, list[str]], name: str) -> str:
    """The first value of ``name``, or "" if it was not sent."""
    values = fields.get(name)
    return values[0] if values else ""


def single(fields: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The value of ``name`` if it was sent exactly once, else None."""
    values = fields.get(name, ())
    return values[0] if len(values) == 1 else None


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    # Read off the scope, not through litestar-htmx's ``HTMXRequest.htmx``: that builds
    # ``request.headers`` and a details object per request: +40-50 us on a ~0.24 ms form GET.
    return header(request, b"hx-request") == "true"


def is_top_level(request: Request[Any, Any, Any]) -> bool:
    # Browsers say whether a navigation loads a tab ("document") or an "iframe".
    return header(request, b"sec-fetch-dest") == "document"


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The client's address: the TCP peer, or, behind a trusted load balancer, the
    address it forwarded (``proxy.ForwardedClientMiddleware`` set it on the scope). Every
    handler that counts, audits or shows an address reads it here."""
    return request.client.host if request.client else None


def decode_form(form: Mapping[str, Sequence[str]], kind: type[T]) -> T:
    """One struct of ``kind``, or ``flow.malformed`` for a field twice or one too many."""
    if any(len(values) != 1 for values in form.values()):
        raise InvalidInput({"": [msg("flow.malformed")]})
    try:
        return msgspec.convert({k: v[0] for k, v in form.items()}, kind)
    except msgspec.ValidationError:
        raise InvalidInput({"": [msg("flow.malformed")]}) from None


def with_query(path: str, **params: str | None) -> str:
    """``path`` with the given query parameters, leaving out the empty ones."""
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path
