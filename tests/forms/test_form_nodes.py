from collections.abc import Callable
from typing import Any

import pytest

from widget_server.forms import FormNode, Option, nodes_for_step
from widget_server.messages import msg

MakeSchema = Callable[..., dict[str, Any]]


def by_name(nodes: tuple[FormNode, ...]) -> dict[str, FormNode]:
    return {n.name: n for n in nodes}


def test_account_step(business: dict[str, Any]) -> None:
    email, phone = nodes_for_step(business, "account", {}, {})

    assert email == FormNode(
        type="input",
        name="email",
        input_type="email",
        label="Work email",
        help=None,
        required=True,
        value=None,
        attributes={"maxlength": "254", "autocomplete": "email"},
    )
    assert (phone.type, phone.input_type, phone.required) == ("input", "tel", False)
    assert phone.attributes == {"maxlength": "1000", "autocomplete": "tel"}


def test_person_step(business: dict[str, Any]) -> None:
    nodes = by_name(nodes_for_step(business, "person", {}, {}))

    assert nodes["first_name"].attributes == {
        "minlength": "1",
        "maxlength": "50",
        "autocomplete": "given-name",
    }
    birth = nodes["date_of_birth"]
    assert (birth.input_type, birth.attributes, birth.required) == ("date", {}, False)
    assert birth.help == "We only use this to check your age."


def test_company_step_snapshot(business: dict[str, Any]) -> None:
    nodes = nodes_for_step(business, "company", {}, {})

    assert [(n.type, n.name, n.input_type, n.required, n.attributes) for n in nodes] == [
        (
            "input",
            "company",
            "text",
            True,
            {"minlength": "2", "maxlength": "100", "pattern": "^[^<>]+$"},
        ),
        (
            "textarea",
            "job_title",
            "text",
            False,
            {"maxlength": "1000", "placeholder": "e.g. Buyer"},
        ),
        ("select", "country", "text", True, {"autocomplete": "country"}),
        ("radio", "size", "text", False, {}),
        ("input", "employees", "number", False, {"min": "1", "max": "100000", "step": "1"}),
    ]


def test_select_options_from_titled_consts_with_a_placeholder(business: dict[str, Any]) -> None:
    empty = by_name(nodes_for_step(business, "company", {}, {}))["country"]
    chosen = by_name(nodes_for_step(business, "company", {"country": "FR"}, {}))["country"]

    countries = (
        Option(value="DE", label="Germany"),
        Option(value="FR", label="France"),
        Option(value="US", label="United States"),
    )
    assert empty.options == (Option(value="", label="Choose…"), *countries)
    assert (chosen.value, chosen.options) == ("FR", countries)


def test_radio_has_no_placeholder(business: dict[str, Any]) -> None:
    size = by_name(nodes_for_step(business, "company", {}, {}))["size"]

    assert [o.value for o in size.options] == ["1-10", "11-50", "51+"]


def test_checkboxes(business: dict[str, Any]) -> None:
    terms, news = nodes_for_step(business, "legal", {"terms": True, "newsletter": ["on"]}, {})

    assert (terms.type, terms.input_type, terms.required, terms.value) == (
        "checkbox",
        "checkbox",
        True,
        True,
    )
    assert (news.required, news.value) == (False, True)
    assert by_name(nodes_for_step(business, "legal", {}, {}))["terms"].value is False


def test_values_and_errors_are_attached_by_name(business: dict[str, Any]) -> None:
    error = msg("form.email_invalid")

    email, phone = nodes_for_step(
        business, "account", {"email": ["nope"], "phone": "+4930123456"}, {"email": [error]}
    )

    assert (email.value, email.messages) == ("nope", (error,))
    assert (phone.value, phone.messages) == ("+4930123456", ())


def test_typed_values_are_shown_as_text(business: dict[str, Any]) -> None:
    employees = by_name(nodes_for_step(business, "company", {"employees": 42}, {}))["employees"]

    assert employees.value == "42"


def test_passwords_are_never_refilled(make_schema: MakeSchema) -> None:
    schema = make_schema(
        password_hint={"type": "string"},
        secret={"type": "string", "x-widget": "password"},
    )

    _, hint, secret = nodes_for_step(schema, "main", {"password_hint": "x", "secret": "y"}, {})

    assert (hint.value, secret.value) == (None, None)
    assert (secret.input_type, secret.attributes["autocomplete"]) == ("password", "new-password")


def test_hints_number_step_and_unanchored_pattern(make_schema: MakeSchema) -> None:
    schema = make_schema(
        code={"type": "string", "pattern": "[0-9]", "x-inputmode": "numeric"},
        ratio={"type": "number", "multipleOf": 0.5},
        weight={"type": "number"},
        token={"type": "string", "x-widget": "hidden"},
    )

    nodes = by_name(nodes_for_step(schema, "main", {}, {}))

    assert nodes["code"].attributes == {
        "maxlength": "1000",
        "pattern": ".*(?:[0-9]).*",
        "inputmode": "numeric",
    }
    assert nodes["ratio"].attributes == {"step": "0.5"}
    assert nodes["weight"].attributes == {"step": "any"}
    assert (nodes["token"].type, nodes["token"].attributes) == ("hidden", {})


def test_pattern_attribute_only_in_the_browser_s_spelling(make_schema: MakeSchema) -> None:
    schema = make_schema(
        plate={"type": "string", "pattern": "^[A-Z0-9][A-Z0-9 -]{1,9}$"},
        name={"type": "string", "pattern": "(?i)^[a-z ]+$"},
    )

    nodes = by_name(nodes_for_step(schema, "main", {}, {}))

    # "-" unescaped in a class is an error under the v flag browsers compile with.
    assert nodes["plate"].attributes["pattern"] == r"^[A-Z0-9][A-Z0-9 \-]{1,9}$"
    # No inline flags in ECMAScript: no client-side check, the server's stays.
    assert "pattern" not in nodes["name"].attributes


def test_caller_changes_to_attributes_do_not_leak(business: dict[str, Any]) -> None:
    email = nodes_for_step(business, "account", {}, {})[0]
    email.attributes["hx-post"] = "/check"

    assert "hx-post" not in nodes_for_step(business, "account", {}, {})[0].attributes


def test_unknown_step(business: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no step"):
        nodes_for_step(business, "nope", {}, {})
