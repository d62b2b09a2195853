"""The developer reference covers everything the code has: each event, each claim, each
message id, each OAuth error; a new one in the code fails here until it is documented."""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec
import pytest

from tests.developers.code_scan import event_structs, id_token_claims, js_message_types
from widget_server.developers import reference
from widget_server.developers.reference import (
    CLAIM_DOCS,
    OAUTH_ERRORS,
    Reference,
    Schema,
    Section,
    Table,
    build_reference,
    oauth_error_codes,
)
from widget_server.messages import CATALOG
from widget_server.oidc.scopes import CLAIMS


@pytest.fixture(scope="module")
def ref() -> Reference:
    return build_reference()


def tables(section: Section) -> list[Table]:
    return [b for b in section.blocks if isinstance(b, Table)]


def all_sections(ref: Reference) -> list[Section]:
    found, stack = [], list(ref.sections)
    while stack:
        section = stack.pop()
        found.append(section)
        stack.extend(section.sections)
    return found


def test_every_event_in_the_code_has_a_section(ref: Reference) -> None:
    events = ref.section("events")
    documented = {s.title for s in events.sections}
    assert set(event_structs()) | js_message_types() <= documented
    [overview] = tables(events)
    assert {row[0] for row in overview.rows} == documented


def test_each_event_section_has_fields_and_a_valid_schema(ref: Reference) -> None:
    for section in ref.section("events").sections:
        [schema] = [b for b in section.blocks if isinstance(b, Schema)]
        jsonschema.Draft202012Validator.check_schema(schema.schema)
        if section.title == "widget-message":
            continue
        [fields] = tables(section)
        assert [row[0] for row in fields.rows][:2] == ["v", "type"]
        assert set(row[0] for row in fields.rows) == set(schema.schema["properties"])


def test_every_claim_the_code_sets_is_documented_and_back(ref: Reference) -> None:
    in_code = id_token_claims() | {c for names in CLAIMS.values() for c in names}
    assert in_code == set(CLAIM_DOCS), (
        f"undocumented: {in_code - set(CLAIM_DOCS)}; gone: {set(CLAIM_DOCS) - in_code}"
    )
    claims, scopes = tables(ref.section("tokens"))
    assert [row[0] for row in claims.rows] == list(CLAIM_DOCS)
    assert {row[0] for row in scopes.rows} == set(CLAIMS)


def test_claims_carry_their_scope(ref: Reference) -> None:
    claims = {row[0]: row for row in tables(ref.section("tokens"))[0].rows}
    assert claims["email"][1:3] == ("email", "ID token, userinfo")
    assert claims["sub"][1] == "openid"
    assert claims["nonce"][1:3] == ("(every ID token)", "ID token")


def test_every_message_id_is_listed_under_its_prefix(ref: Reference) -> None:
    listed: dict[str, str] = {}
    for section in ref.section("errors").sections:
        if section.id == "oauth-errors":
            continue
        [table] = tables(section)
        for message_id, text, _params in table.rows:
            assert message_id.startswith(section.title + ".")
            listed[message_id] = text
    assert listed == CATALOG


def test_message_parameters_are_listed(ref: Reference) -> None:
    rows = {row[0]: row for row in tables(ref.section("errors-form"))[0].rows}
    assert rows["form.too_short"][2] == "min"
    assert rows["form.required"][2] == ""


def test_every_oauth_error_is_explained(ref: Reference) -> None:
    assert oauth_error_codes() == set(OAUTH_ERRORS)
    [table] = tables(ref.section("oauth-errors"))
    assert {row[0] for row in table.rows} == set(OAUTH_ERRORS)


class HookData(msgspec.Struct, frozen=True):
    user_id: str


class HookEvent(msgspec.Struct, frozen=True):
    """Stands for a webhooks Struct: the hook takes any event type → JSON Schema map."""

    type: str
    data: HookData


def test_webhook_schemas_plug_in() -> None:
    schemas: dict[str, dict[str, Any]] = {"user.registered": msgspec.json.schema(HookEvent)}
    section = build_reference(webhook_schemas=schemas).section("webhooks")
    assert [s.id for s in section.sections] == ["webhooks-user.registered"]
    [schema] = section.sections[0].blocks
    assert isinstance(schema, Schema) and schema.schema == schemas["user.registered"]
    assert tables(section)[0].rows == (("user.registered",),)


def test_without_webhooks_the_section_says_so(ref: Reference) -> None:
    section = ref.section("webhooks")
    assert section.sections == () and "not available" in str(section.blocks[0])


def test_section_ids_are_unique_anchors(ref: Reference) -> None:
    ids = [s.id for s in all_sections(ref)]
    assert len(ids) == len(set(ids))
    with pytest.raises(KeyError):
        ref.section("no-such-section")


def test_the_reference_is_plain_data(ref: Reference) -> None:
    encoded = msgspec.json.encode(ref)
    assert msgspec.json.decode(encoded, type=Reference) == ref
    blocks = msgspec.json.decode(encoded)["sections"][0]["blocks"]
    assert [b["type"] for b in blocks] == ["paragraph", "table", "paragraph"]


def test_example_payloads_match_their_schemas(ref: Reference) -> None:
    for section in ref.section("events").sections:
        codes = [b for b in section.blocks if isinstance(b, reference.Code)
                 and b.language == "json"]
        [schema] = [b for b in section.blocks if isinstance(b, Schema)]
        for code in codes:
            jsonschema.validate(msgspec.json.decode(code.code), schema.schema)
