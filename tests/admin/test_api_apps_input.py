"""Pool ids an app names are looked up only when they could be pool ids: a NUL or a lone
surrogate is an unknown pool (422), never a database error (PostgreSQL refuses NUL in
text), as the schemathesis run found."""

from __future__ import annotations

from tests.admin.keys import AdminClient


async def test_malformed_pool_ids_are_unknown_pools(operator: AdminClient) -> None:
    for pool_id in ("a\u0000b", "\u00e4o\u0002l", "partner-1\u0000"):
        answer = await operator.post(
            "/apps", json={"kind": "public", "name": "x", "pool_ids": [pool_id]}
        )
        assert answer.status_code == 422, answer.text
        assert {e["field"] for e in answer.json()["errors"]} == {"pool_ids"}
