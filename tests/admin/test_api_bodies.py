"""Hostile bodies on the admin API: the key is checked before any byte of the body is
read, and every malformed body (invalid UTF-8, deep nesting, wrong types, not JSON) gets
400 in the standard error shape, never 500."""

from __future__ import annotations

import pytest

from tests.admin.keys import AdminClient
from tests.conftest import Harness
from widget_server.web.api.bodies import MAX_JSON_DEPTH

JSON = {"content-type": "application/json"}
POOL = b'{"id": "partner-9", "name": "P9", "payload_schema_id": "consumer-basic"'


def _deep(depth: int) -> bytes:
    return b'{"id": "partner-9", "name": "n", "payload_schema_id": "consumer-basic", "theme": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )


def _standard_400(response: object) -> None:
    assert response.status_code == 400, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["status"] == 400
    assert body["errors"] and all(e["id"] == "admin.invalid_body" for e in body["errors"])
    assert all(set(e) == {"id", "field", "params", "message"} for e in body["errors"])


BAD_BODIES = {
    "invalid utf-8 in a string": POOL + b', "theme": {"copy": {"k": "\xff\xfe"}}}',
    "invalid utf-8 in a key": b'{"\xc3": 1}',
    "a thousand levels deep": _deep(1000),
    "one level too deep": _deep(MAX_JSON_DEPTH + 1),
    "deep objects": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "not json": b"{nope",
    "truncated": POOL,
    "a number where an object goes": b"12",
    "wrong type": POOL + b', "self_registration": "yes"}',
    "nul in a string": POOL + b', "name": "a\\u0000b"}',
    "lone surrogate": POOL[:-1] + b', "name": "\\ud800"}',
    "empty": b"",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_malformed_bodies_get_400_in_the_standard_shape(
    operator: AdminClient, body: bytes
) -> None:
    for method, path in (("POST", "/pools"), ("PATCH", "/pools/partner-1")):
        _standard_400(await operator.call(method, path, content=body, headers=JSON))


async def test_nesting_within_the_bound_is_read(operator: AdminClient) -> None:
    # Read, then refused by the typed decoding at its field (a theme is an object).
    response = await operator.call(
        "POST", "/pools", content=_deep(MAX_JSON_DEPTH - 1), headers=JSON
    )
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["theme"]


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_no_key_no_body_read(harness: Harness, body: bytes) -> None:
    """Without a valid key every request is 401, whatever the body: it is never parsed."""
    for auth in ({}, {"Authorization": "Bearer wsk_nope"}):
        response = await harness.client.post("/api/admin/pools", content=body, headers=JSON | auth)
        assert response.status_code == 401, response.text
        assert [e["id"] for e in response.json()["errors"]] == ["admin.unauthenticated"]


async def test_no_key_and_a_huge_body_is_401_not_413(harness: Harness) -> None:
    body = b'{"x": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    response = await harness.client.post("/api/admin/pools", content=body, headers=JSON)
    assert response.status_code == 401
