from typing import Any

from widget_server.errors import InvalidInput
from widget_server.forms import merge_step, read_step, validate_payload
from widget_server.forms.validation import choices_as_enums

VALID: dict[str, Any] = {
    "email": "jane@example.com",
    "phone": "+4930123456",
    "first_name": "Jane",
    "last_name": "Doe",
    "date_of_birth": "1990-01-01",
    "company": "ACME",
    "country": "DE",
    "employees": 12,
    "address": {"city": "Berlin"},
    "terms": True,
    "newsletter": False,
}


def ids(found: dict[str, list[Any]]) -> dict[str, str]:
    return {field: messages[0].id for field, messages in found.items()}


def test_valid_payload(business: dict[str, Any]) -> None:
    assert validate_payload(business, VALID) == {}


def test_missing_required_fields(business: dict[str, Any]) -> None:
    payload = {k: v for k, v in VALID.items() if k not in ("first_name", "terms")}

    assert ids(validate_payload(business, payload)) == {
        "first_name": "form.required",
        "terms": "form.required",
    }


def test_keyword_mapping(business: dict[str, Any]) -> None:
    payload = {
        **VALID,
        "email": "no-at-sign",
        "date_of_birth": "1990-02-30",
        "company": "<b>",
        "country": "XX",
        "employees": "12",
        "terms": False,
        "address": {"city": "B"},
    }

    found = validate_payload(business, payload)

    assert ids(found) == {
        "email": "form.email_invalid",
        "date_of_birth": "form.date_invalid",
        "company": "form.pattern",
        "country": "form.enum",
        "employees": "form.type",
        "terms": "form.must_accept",
        "address": "form.too_short",
    }
    assert found["employees"][0].params == {"type": "number"}


def test_extra_properties_when_the_schema_forbids_them(business: dict[str, Any]) -> None:
    business["additionalProperties"] = False

    found = validate_payload(business, {**VALID, "is_admin": True})

    assert ids(found) == {"is_admin": "form.unknown_field"}
    assert found["is_admin"][0].params == {"field": "is_admin"}


def test_whole_object_rules_land_on_the_form(business: dict[str, Any]) -> None:
    business["minProperties"] = 50

    assert ids(validate_payload(business, VALID)) == {"": "form.invalid"}


def test_read_step_ignores_whole_object_rules(business: dict[str, Any]) -> None:
    business["dependentRequired"] = {"email": ["first_name"]}

    assert read_step(business, "account", {"email": ["a@example.com"]}) == {
        "email": "a@example.com"
    }


def test_last_step_checks_the_whole_payload_in_one_pass(business: dict[str, Any]) -> None:
    business["dependentRequired"] = {"newsletter": ["phone"]}
    earlier = {k: v for k, v in VALID.items() if k not in ("terms", "newsletter", "phone")}

    # Alone, the step passes; with what the earlier steps stored, the whole-object rule
    # and the earlier steps' required fields are checked too, before anything is saved.
    assert read_step(business, "legal", {"terms": ["on"], "newsletter": ["on"]}) == {
        "terms": True,
        "newsletter": True,
    }
    try:
        read_step(business, "legal", {"terms": ["on"], "newsletter": ["on"]}, earlier=earlier)
    except InvalidInput as exc:
        assert ids(exc.messages) == {"": "form.invalid"}
    else:
        raise AssertionError("the dependentRequired rule was not checked")

    values = read_step(
        business, "legal", {"terms": ["on"]}, earlier={**earlier, "phone": "+4930123456"}
    )
    assert values == {"terms": True, "newsletter": False}
    assert validate_payload(business, merge_step({**earlier, "phone": "+4930123456"}, values)) == {}


def test_last_step_reports_errors_of_its_own_fields_as_before(business: dict[str, Any]) -> None:
    earlier = {k: v for k, v in VALID.items() if k not in ("terms", "newsletter")}
    found = []
    for whole in (None, earlier):
        try:
            read_step(business, "legal", {"newsletter": ["on"]}, earlier=whole)
        except InvalidInput as exc:
            found.append(ids(exc.messages))
        else:
            raise AssertionError("terms unchecked, yet accepted")
    assert found == [{"terms": "form.must_accept"}] * 2


def test_merge_step_puts_the_steps_values_over_the_stored_ones() -> None:
    assert merge_step({"a": 1, "b": 2}, {"b": 3, "c": 4}) == {"a": 1, "b": 3, "c": 4}


def test_labelled_options_validate_as_an_enum_would() -> None:
    options = [{"const": "DE", "title": "Germany"}, {"const": "FR", "title": "France"}]
    schema = {
        "type": "object",
        "properties": {
            "country": {"type": "string", "oneOf": options},
            "size": {"anyOf": [{"const": "s"}, {"const": "m", "x-order": 2}]},
        },
    }
    fast = choices_as_enums(schema)["properties"]
    assert fast["country"] == {"type": "string", "enum": ["DE", "FR"]}
    assert fast["size"] == {"enum": ["s", "m"]}
    assert validate_payload(schema, {"country": "DE", "size": "m"}) == {}
    assert ids(validate_payload(schema, {"country": "XX", "size": "l"})) == {
        "country": "form.enum",
        "size": "form.enum",
    }
    # The order of the keywords is kept, so the first failure of a field stays the same.
    assert ids(validate_payload(schema, {"country": 7})) == {"country": "form.type"}
    assert schema["properties"]["country"]["oneOf"] == options  # the stored schema is as it was


def test_options_that_are_more_than_constants_stay_as_they_are() -> None:
    twice = {"oneOf": [{"const": "a"}, {"const": "a"}]}  # "a" matches two: oneOf fails it
    numbers = {"oneOf": [{"const": 1}, {"const": 2}]}
    ruled = {"oneOf": [{"const": "a"}, {"const": "b", "minLength": 3}]}
    for node in (twice, numbers, ruled):
        assert choices_as_enums(node) == node
    schema = {"type": "object", "properties": {"pick": twice}}
    assert ids(validate_payload(schema, {"pick": "a"})) == {"pick": "form.enum"}
