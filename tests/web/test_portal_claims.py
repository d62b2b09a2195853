"""The portal's pool settings edit the claim mapping: stored when valid, refused by field
(against the schema) when not."""

from __future__ import annotations

from tests.conftest import Harness
from tests.web.conftest import Login
from tests.web.portal_client import OPERATOR, field_errors
from tests.web.test_portal import _selected


def _form(page: str, mapping: str) -> dict[str, object]:
    return {
        "name": "Business 1",
        "payload_schema_id": _selected(page, "payload_schema_id"),
        "activation_methods": ["email"],
        "allowed_origins": "https://shop.example",
        "session_lifetime_seconds": "3600",
        "policy.min_length": "8",
        "policy.max_length": "128",
        "policy.common": "on",
        "claim_mapping": mapping,
    }


async def test_the_portal_edits_the_claim_mapping(h: Harness, login: Login) -> None:
    portal = await login(OPERATOR)
    page = await portal.get("/admin/pools/business-1")
    assert 'name="claim_mapping"' in page.text
    refused = await portal.post(
        "/admin/pools/business-1", _form(page.text, "given_name = payload.nope\nfoo")
    )
    assert refused.status_code == 422
    assert field_errors(refused, "claim_mapping") == ["claims.bad_source"]
    refused = await portal.post(
        "/admin/pools/business-1", _form(page.text, "given_name = payload.nope")
    )
    assert field_errors(refused, "claim_mapping") == ["claims.unknown_field"]
    saved = await portal.post(
        "/admin/pools/business-1",
        _form(page.text, "given_name = payload.first_name\nfamily_name = payload.last_name"),
    )
    assert saved.status_code == 303, saved.text
    pool = await h.web.services.pools.get("business-1")
    assert pool.claim_mapping == {
        "given_name": "payload.first_name",
        "family_name": "payload.last_name",
    }
    again = await portal.get("/admin/pools/business-1")
    assert "given_name = payload.first_name" in again.text
