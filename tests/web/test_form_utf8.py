"""Posted text is UTF-8 or refused: a field whose bytes are not UTF-8 gets 400 with
``form.invalid_utf8`` naming the field, on every surface, and nothing is stored (it used
to be decoded with U+FFFD, so different byte strings became the same address)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest

from tests.conftest import FlowPage, Harness, count
from widget_server.errors import MalformedInput
from widget_server.models import Address, Flow, User
from widget_server.web.shared.request_io import parse_url_encoded

FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "body",
    [
        b"a=1&b=2&a=3",
        b"email=jane%40example.com&password=x+y%2Bz",
        b"x=&y&=z",
        b"name=J%C3%B6rg&city=K%C3%B6ln",
        b"&&a=1&&",
    ],
)
def test_valid_bodies_read_as_the_standard_library_reads_them(body: bytes) -> None:
    expected: dict[str, list[str]] = {}
    for name, value in parse_qsl(body.decode("ascii"), keep_blank_values=True):
        expected.setdefault(name, []).append(value)
    assert parse_url_encoded(body) == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"email=%FF%FE%40example.com", "email"),  # escaped bytes that are not UTF-8
        (b"email=\xff@example.com", "email"),  # raw bytes
        (b"email=%ED%A0%80@example.com", "email"),  # an encoded surrogate
        (b"email=%C3", "email"),  # truncated sequence
        (b"%FF=1", "%FF"),  # the name itself
    ],
)
def test_bytes_that_are_not_utf8_are_refused_by_field(body: bytes, field: str) -> None:
    with pytest.raises(MalformedInput) as refused:
        parse_url_encoded(body)
    [(where, [message])] = refused.value.messages.items()
    assert (where, message.id, message.params["field"]) == (field, "form.invalid_utf8", field)


async def _registration_form(h: Harness) -> dict[str, str]:
    response = await h.client.get(
        "/embed/partner-1/register", params={"parent_origin": "http://127.0.0.1:8001"}
    )
    return FlowPage(response, "partner-1").hidden


def _encode(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


@pytest.mark.parametrize("htmx", [True, False])
async def test_registration_refuses_an_address_that_is_not_utf8(
    harness: Harness, htmx: bool
) -> None:
    hidden = await _registration_form(harness)
    body = _encode(hidden) + b"&password=Blue-Harbour-Kettle-42&email=jane%FF%40example.com"
    headers = FORM | ({"HX-Request": "true"} if htmx else {})
    response = await harness.client.post(
        "/embed/partner-1/register", content=body, headers=headers
    )
    assert response.status_code == 400
    assert 'data-message-id="form.invalid_utf8"' in response.text
    assert "“email”" in response.text
    assert "\ufffd" not in response.text
    assert await count(harness, User) == 0
    assert await count(harness, Address) == 0
    assert await count(harness, Flow) == 0


async def test_login_and_portal_sign_in_refuse_it_too(harness: Harness) -> None:
    for path in ("/embed/partner-1/login", "/admin/login"):
        response = await harness.client.post(
            path, content=b"identifier=a%FF&email=a%FF&password=x", headers=FORM
        )
        assert response.status_code == 400, path
        assert 'data-message-id="form.invalid_utf8"' in response.text, path


async def test_multipart_parts_that_are_not_utf8_are_refused(harness: Harness) -> None:
    boundary = "XyZ"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n".encode()
        + b"jane\xff@example.com\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    response = await harness.client.post(
        "/embed/partner-1/register",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400
    assert 'data-message-id="form.invalid_utf8"' in response.text
    assert await count(harness, User) == 0


async def test_the_token_endpoint_answers_invalid_request(harness: Harness) -> None:
    response = await harness.client.post(
        "/oauth/token", content=b"grant_type=authorization_code&code=%FF", headers=FORM
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
