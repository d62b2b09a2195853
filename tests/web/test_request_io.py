"""Posted forms are parsed by ``request_io.form_fields``, which keeps nothing: Litestar's
own parser caches up to 1,024 parsed bodies, passwords included."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar, Request, post
from litestar._parsers import parse_url_encoded_form_data

from tests.auth.people import make_user
from tests.conftest import Harness
from tests.web.login_client import LoginClient
from widget_server.web.shared.request_io import first, form_fields, header

SECRET = "Unusual-Parrot-Lantern-77"


@post("/echo", status_code=200)
async def echo(request: Request[Any, Any, Any]) -> dict[str, Any]:
    fields = await form_fields(request)
    return {
        "fields": {k: [str(v) for v in vs] for k, vs in fields.items()},
        "first_a": first(fields, "a"),
        "first_missing": first(fields, "missing"),
        "agent": header(request, b"user-agent"),
    }


async def call(**kwargs: Any) -> dict[str, Any]:
    app = Litestar([echo])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {"user-agent": "probe/1", **kwargs.pop("headers", {})}
        response = await client.post("/echo", headers=headers, **kwargs)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_url_encoded_fields_keep_repeats_blanks_order_and_utf8() -> None:
    body = "a=1&b=&a=2&name=J%C3%BCrgen+M%C3%BCller&plus=%2B&weird=%E2%82%AC%20"
    result = await call(
        content=body.encode(),
        headers={"content-type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert result["fields"] == {
        "a": ["1", "2"],
        "b": [""],
        "name": ["Jürgen Müller"],
        "plus": ["+"],
        "weird": ["€ "],
    }
    assert (result["first_a"], result["first_missing"]) == ("1", "")
    assert result["agent"] == "probe/1"


async def test_multipart_is_read_and_other_bodies_have_no_fields() -> None:
    multipart = await call(data={"a": "x", "b": "y"}, files={"f": ("f.txt", b"data")})
    assert multipart["fields"]["a"] == ["x"] and multipart["fields"]["b"] == ["y"]
    # A file stays a file (the decoders refuse it as not text).
    assert multipart["fields"]["f"] != ["data"] and len(multipart["fields"]["f"]) == 1
    json_body = await call(json={"a": "1"})
    assert json_body["fields"] == {} and json_body["first_a"] == ""


async def test_registration_and_login_posts_leave_no_password_in_the_form_cache(
    harness: Harness, widget: Any
) -> None:
    parse_url_encoded_form_data.cache_clear()
    w = widget("partner-1")
    await w.open()
    page = await w.post(email="cache@example.com", password=SECRET)
    assert page.state == "code"
    person = await make_user(harness, email="known@example.com", password=SECRET)
    client = LoginClient(harness)
    await client.open()
    done = await client.submit(person.email, SECRET)
    assert done.status == 200 and 'data-state="done"' in done.text
    assert parse_url_encoded_form_data.cache_info().currsize == 0
