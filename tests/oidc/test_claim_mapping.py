"""Per-pool claim mapping (oidc/mapping.py): explicit mappings from templates and the
admin API, checked against the schemas whenever either changes, and used by the ID
token and userinfo."""

from __future__ import annotations

from typing import Any

import pytest

from tests.admin.keys import AdminClient
from widget_server.admin.templates import BANKING_SCHEMA, EMPLOYEES_SCHEMA, TEMPLATES
from widget_server.oidc.claims import Subject, user_claims
from widget_server.oidc.mapping import inferred_mapping, mapped_claims, mapping_problems


def _subject(payload: dict[str, Any], metadata: dict[str, Any] | None = None) -> Subject:
    return Subject(
        id="u",
        pool_id="p",
        status="active",
        payload=payload,
        metadata=metadata or {},
        verified={},
    )


def test_every_template_mapping_is_valid_against_its_schema() -> None:
    for template in TEMPLATES.values():
        assert template.claim_mapping, template.id
        assert (
            mapping_problems(
                template.claim_mapping, template.payload_schema, template.metadata_schema
            )
            == {}
        ), template.id


@pytest.mark.parametrize("schema", [BANKING_SCHEMA, EMPLOYEES_SCHEMA])
def test_given_and_family_name_pools_get_name_claims(schema: dict[str, Any]) -> None:
    for mapping in (inferred_mapping(schema), TEMPLATES["b2b-employees"].claim_mapping):
        claims = user_claims(
            _subject({"given_name": "Ada", "family_name": "Lovelace"}), ["profile"], mapping
        )
        assert (claims["given_name"], claims["family_name"], claims["name"]) == (
            "Ada",
            "Lovelace",
            "Ada Lovelace",
        )


def test_claims_need_the_profile_scope_and_text_values() -> None:
    mapping = {"given_name": "payload.given_name", "nickname": "metadata.nick"}
    subject = _subject({"given_name": {"evil": 1}}, {"nick": "  Ada  "})
    assert "nickname" not in user_claims(subject, ["email"], mapping)
    assert mapped_claims(mapping, subject.payload, subject.metadata) == {"nickname": "Ada"}


def test_mapping_problems_name_the_claim() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "t": {"type": "string"}}}
    problems = mapping_problems(
        {
            "shoe_size": "payload.t",
            "given_name": "payload.missing",
            "family_name": "payload.n",
            "nickname": "elsewhere.t",
            "locale": "payload.t",
        },
        schema,
        None,
    )
    assert {k: [m.id for m in v] for k, v in problems.items()} == {
        "claim_mapping.shoe_size": ["claims.unknown_claim"],
        "claim_mapping.given_name": ["claims.unknown_field"],
        "claim_mapping.family_name": ["claims.not_text"],
        "claim_mapping.nickname": ["claims.bad_source"],
    }


async def test_pools_from_templates_carry_their_mapping(operator: AdminClient) -> None:
    made = await operator.post(
        "/pools", json={"id": "bank-9", "name": "Bank 9", "template": "banking"}
    )
    assert made.status_code in (200, 201), made.text
    assert made.json()["claim_mapping"]["given_name"] == "payload.given_name"


async def test_the_api_checks_the_mapping_and_the_schema_against_each_other(
    operator: AdminClient,
) -> None:
    bad = await operator.patch(
        "/pools/partner-1", json={"claim_mapping": {"given_name": "payload.first_name"}}
    )
    assert bad.status_code == 422
    assert [(e["field"], e["id"]) for e in bad.json()["errors"]] == [
        ("claim_mapping.given_name", "claims.unknown_field")
    ]
    # business-customer has first_name: a valid mapping is stored...
    good = await operator.patch(
        "/pools/business-1",
        json={"claim_mapping": {"given_name": "payload.first_name"}},
    )
    assert good.status_code == 200, good.text
    assert good.json()["pool"]["claim_mapping"] == {"given_name": "payload.first_name"}
    # ...and a schema change that would leave it pointing nowhere is refused.
    switched = await operator.patch(
        "/pools/business-1", json={"payload_schema_id": "consumer-basic"}
    )
    assert switched.status_code == 422
    assert [e["field"] for e in switched.json()["errors"]] == ["claim_mapping.given_name"]
