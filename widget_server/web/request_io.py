"""Reading a request's headers and posted form fields, cheaply and without keeping them.

``Request.form()`` parses a url-encoded body through an ``lru_cache`` keyed on the body
(Litestar's ``parse_url_encoded_form_data``, 1,024 entries per process): every password,
code and CSRF token a widget form posts would stay in memory, parsed, until 1,024 other
forms pushed it out. ``form_fields`` parses the body itself and keeps nothing; it also
skips the multi-dict Litestar builds per request (a registration's POST spent ~8 % of
its event-loop CPU in ``form()``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

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
        fields: dict[str, list[str]] = {}
        # As Litestar does: bytes as latin-1, then %-escapes decoded as UTF-8.
        pairs = parse_qsl((await request.body()).decode("latin-1"), keep_blank_values=True)
        for name, value in pairs:
            fields.setdefault(name, []).append(value)
        return fields
    if media == MULTIPART:
        form = await request.form()
        # An uploaded file stays an UploadFile, which the decoders refuse as not text.
        return {name: list(form.getall(name)) for name in form}
    return {}


def first(fields: dict[str, list[str]], name: str) -> str:
    """The first value of ``name``, or "" if it was not sent."""
    values = fields.get(name)
    return values[0] if values else ""
