"""Pool ids an app names are looked up only when they could be pool ids: a control
character or a lone surrogate is an unknown pool (422), never a database error (PostgreSQL
refuses NUL in text), as the schemathesis run found. A NUL never gets that far: the API's
body guard refuses any body whose strings hold one (400 ``admin.invalid_body``)."""

from __future__ import annotations

from tests.admin.keys import AdminClient


async def test_malformed_pool_ids_are_unknown_pools(operator: AdminClient) -> None:
    for pool_id in ("\u00e4o\u0002l", "partner-1\u0007"):
        answer = await operator.post(
            "/apps", json={"kind": "public", "name": "x", "pool_ids": [pool_id]}
        )
        assert answer.status_code == 422, answer.text
        assert {e["field"] for e in answer.json()["errors"]} == {"pool_ids"}


async def test_a_nul_in_a_pool_id_is_a_malformed_body(operator: AdminClient) -> None:
    for pool_id in ("a\u0000b", "partner-1\u0000"):
        answer = await operator.post(
            "/apps", json={"kind": "public", "name": "x", "pool_ids": [pool_id]}
        )
        assert answer.status_code == 400, answer.text
        assert [e["id"] for e in answer.json()["errors"]] == ["admin.invalid_body"]
