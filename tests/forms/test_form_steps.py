import copy
from collections.abc import Callable
from typing import Any

import pytest

from widget_server.forms import Step, check_schema, identifier_field, steps_of

MakeSchema = Callable[..., dict[str, Any]]


def test_steps_follow_x_steps_then_unlisted_steps(business: dict[str, Any]) -> None:
    steps = steps_of(business)

    assert [s.id for s in steps] == ["account", "person", "company", "legal", "extra"]
    assert steps[0] == Step("account", "Your account", "How you sign in", ("email", "phone"))
    assert steps[1].title == "About you"
    assert steps[1].description is None
    assert steps[4] == Step("extra", "extra", None, ("notes",))


def test_fields_ordered_by_x_order_then_declaration(business: dict[str, Any]) -> None:
    steps = {s.id: s.fields for s in steps_of(business)}

    assert steps["person"] == ("last_name", "first_name", "date_of_birth")
    assert steps["legal"] == ("terms", "newsletter")


def test_nested_objects_are_not_form_fields(business: dict[str, Any]) -> None:
    company = steps_of(business)[2]

    assert company.fields == ("company", "job_title", "country", "size", "employees")


def test_without_x_steps_unmarked_fields_join_the_first_named_step(make_schema: MakeSchema) -> None:
    schema = make_schema(
        nickname={"type": "string", "x-step": "one"},
        bio={"type": "string", "x-step": "two"},
    )

    assert [(s.id, s.fields) for s in steps_of(schema)] == [
        ("one", ("email", "nickname")),
        ("two", ("bio",)),
    ]


def test_schema_without_any_step_hint_is_one_step(make_schema: MakeSchema) -> None:
    assert steps_of(make_schema(name={"type": "string"})) == (
        Step("main", "main", None, ("email", "name")),
    )


def test_steps_are_cached_by_content(business: dict[str, Any]) -> None:
    assert steps_of(business) is steps_of(copy.deepcopy(business))


def test_identifier_field(business: dict[str, Any], make_schema: MakeSchema) -> None:
    assert identifier_field(business) == "email"
    phone_only = make_schema()
    phone_only["properties"]["email"] = {"type": "string", "format": "tel", "x-identifier": True}
    assert identifier_field(phone_only) == "email"


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s["properties"]["email"].pop("x-identifier"),
        lambda s: s["properties"]["phone"].update({"x-identifier": True}),
        lambda s: s["properties"]["email"].pop("format"),
        lambda s: s["properties"]["email"].update({"type": "integer"}),
    ],
    ids=["none", "two", "no-format", "not-a-string"],
)
def test_identifier_field_refuses(business: dict[str, Any], change: Callable[[Any], None]) -> None:
    change(business)

    with pytest.raises(ValueError, match="identifier"):
        identifier_field(business)


def test_check_schema_accepts_business(business: dict[str, Any]) -> None:
    check_schema(business)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s["properties"]["company"].update({"type": "strng"}), "draft 2020-12"),
        (lambda s: s["properties"]["company"].update({"pattern": "(unclosed"}), "draft 2020-12"),
        (lambda s: s["properties"]["company"].update({"minLength": -1}), "draft 2020-12"),
        (lambda s: s.update({"$schema": "http://json-schema.org/draft-07/schema#"}), r"\$schema"),
        (lambda s: s.update({"type": "array"}), "object"),
        (
            lambda s: s["properties"]["country"].update({"$ref": "https://evil.test/c.json"}),
            "inside this schema",
        ),
        (
            lambda s: s["properties"]["country"].update({"$ref": "#/$defs/nope"}),
            "points to nothing",
        ),
        (lambda s: s["properties"]["email"].pop("x-identifier"), "x-identifier"),
        (lambda s: s["required"].remove("email"), "required"),
        (lambda s: s["properties"]["notes"].update({"x-widget": "slider"}), "x-widget"),
        (lambda s: s["properties"]["notes"].update({"x-order": "1"}), "x-order"),
        (lambda s: s["properties"]["notes"].update({"x-step": 3}), "x-step"),
        (lambda s: s["properties"]["notes"].update({"x-searchable": "yes"}), "x-searchable"),
        (lambda s: s["properties"]["terms"].update({"x-searchable": True}), "only string"),
        (lambda s: s["properties"]["phone"].update({"x-default-region": "XX"}), "region"),
        (lambda s: s["x-steps"].append({"id": "account"}), "x-steps"),
    ],
)
def test_check_schema_refuses(
    business: dict[str, Any], change: Callable[[Any], None], reason: str
) -> None:
    change(business)

    with pytest.raises(ValueError, match=reason):
        check_schema(business)
