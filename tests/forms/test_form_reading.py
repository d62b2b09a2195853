import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from widget_server.errors import InvalidInput
from widget_server.forms import read_step

MakeSchema = Callable[..., dict[str, Any]]
Form = Mapping[str, Sequence[str]]


def failures(
    schema: dict[str, Any], step: str, form: Form
) -> dict[str, tuple[str, dict[str, Any]]]:
    with pytest.raises(InvalidInput) as caught:
        read_step(schema, step, form)
    return {field: (ms[0].id, ms[0].params) for field, ms in caught.value.messages.items()}


def ids(schema: dict[str, Any], step: str, form: Form) -> dict[str, str]:
    return {field: found[0] for field, found in failures(schema, step, form).items()}


def test_account_normalises_email_and_phone(business: dict[str, Any]) -> None:
    values = read_step(
        business, "account", {"email": ["  Jane.Doe@EXAMPLE.com "], "phone": ["+49 30 123456"]}
    )

    assert values == {"email": "Jane.Doe@example.com", "phone": "+4930123456"}


def test_idna_email_and_default_region(business: dict[str, Any]) -> None:
    values = read_step(business, "account", {"email": ["jane@BÜCHER.de"], "phone": ["030 123456"]})

    assert values == {"email": "jane@bücher.de", "phone": "+4930123456"}


def test_empty_optional_fields_are_left_out(business: dict[str, Any]) -> None:
    form = {"email": ["a@example.com"], "phone": ["  "]}

    assert read_step(business, "account", form) == {"email": "a@example.com"}


def test_person_and_company_steps(business: dict[str, Any]) -> None:
    person = {"first_name": [" Ada "], "last_name": ["Lovelace"], "date_of_birth": ["1815-12-10"]}
    company = {
        "company": ["Analytical Engines Ltd"],
        "job_title": [""],
        "country": ["DE"],
        "size": ["11-50"],
        "employees": ["42"],
    }

    assert read_step(business, "person", person) == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "date_of_birth": "1815-12-10",
    }
    assert read_step(business, "company", company) == {
        "company": "Analytical Engines Ltd",
        "country": "DE",
        "size": "11-50",
        "employees": 42,
    }


def test_checkboxes(business: dict[str, Any]) -> None:
    assert read_step(business, "legal", {"terms": ["on"]}) == {"terms": True, "newsletter": False}
    assert read_step(business, "legal", {"terms": ["true"], "newsletter": ["1"]}) == {
        "terms": True,
        "newsletter": True,
    }


def test_required_fields_of_this_step_only(business: dict[str, Any]) -> None:
    assert ids(business, "person", {"date_of_birth": ["2000-01-01"]}) == {
        "first_name": "form.required",
        "last_name": "form.required",
    }


def test_every_failure_is_collected_with_its_id(business: dict[str, Any]) -> None:
    form = {
        "company": ["A"],
        "country": ["XX"],
        "size": ["huge"],
        "employees": ["many"],
    }

    assert failures(business, "company", form) == {
        "company": ("form.too_short", {"min": 2}),
        "country": ("form.enum", {}),
        "size": ("form.enum", {}),
        "employees": ("form.type", {"type": "number"}),
    }


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"company": ["<b>Evil</b>"]}, ("form.pattern", {})),
        ({"company": ["x" * 101]}, ("form.too_long", {"max": 100})),
        ({"employees": ["0"]}, ("form.minimum", {"min": 1})),
        ({"employees": ["100001"]}, ("form.maximum", {"max": 100000})),
        ({"employees": ["4.5"]}, ("form.type", {"type": "number"})),
        # Arabic-Indic digits: int() would take them, a number input would not send them.
        ({"employees": ["\u0664\u0662"]}, ("form.type", {"type": "number"})),
    ],
)
def test_company_field_errors(
    business: dict[str, Any], form: Form, expected: tuple[str, dict[str, Any]]
) -> None:
    base = {"company": ["ACME"], "country": ["DE"]}
    field = next(iter(form))

    assert failures(business, "company", {**base, **form}) == {field: expected}


def test_terms_must_be_accepted(business: dict[str, Any]) -> None:
    assert ids(business, "legal", {}) == {"terms": "form.must_accept"}
    assert ids(business, "legal", {"terms": ["off"]}) == {"terms": "form.must_accept"}


def test_bogus_checkbox_value(business: dict[str, Any]) -> None:
    assert failures(business, "legal", {"terms": ["on"], "newsletter": ["maybe"]}) == {
        "newsletter": ("form.type", {"type": "boolean"})
    }


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "jane@@example.com", "jane@localhost"])
def test_invalid_email(business: dict[str, Any], email: str) -> None:
    assert ids(business, "account", {"email": [email]}) == {"email": "form.email_invalid"}


@pytest.mark.parametrize("phone", ["+49 1", "+1 000 000 0000", "12" * 20])
def test_invalid_phone(business: dict[str, Any], phone: str) -> None:
    form = {"email": ["a@example.com"], "phone": [phone]}

    assert ids(business, "account", form) == {"phone": "phone.invalid"}


def test_letters_in_a_phone_number_are_refused(business: dict[str, Any]) -> None:
    # Never a vanity-number conversion (ABC -> 222): letters are their own refusal.
    form = {"email": ["a@example.com"], "phone": ["abc"]}

    assert ids(business, "account", form) == {"phone": "phone.letters"}


def test_phone_without_default_region_needs_country_code(make_schema: MakeSchema) -> None:
    schema = make_schema(mobile={"type": "string", "x-widget": "tel"})

    assert ids(schema, "main", {"email": ["a@example.com"], "mobile": ["030 123456"]}) == {
        "mobile": "phone.invalid"
    }
    assert (
        read_step(schema, "main", {"email": ["a@example.com"], "mobile": ["+33 1 23 45 67 89"]})[
            "mobile"
        ]
        == "+33123456789"
    )


@pytest.mark.parametrize(
    "day",
    [
        "2023-02-30",
        "31.12.1990",
        "1990-1-1",
        "\u0661\u0669\u0669\u0660-\u0660\u0661-\u0660\u0661",
        "19900101",
    ],
)
def test_invalid_date(business: dict[str, Any], day: str) -> None:
    form = {"first_name": ["Ada"], "last_name": ["L"], "date_of_birth": [day]}

    assert ids(business, "person", form) == {"date_of_birth": "form.date_invalid"}


def test_numbers(make_schema: MakeSchema) -> None:
    schema = make_schema(ratio={"type": "number"})
    base = {"email": ["a@example.com"]}

    assert read_step(schema, "main", {**base, "ratio": ["-1.5e2"]})["ratio"] == -150.0
    assert read_step(schema, "main", {**base, "ratio": ["7"]})["ratio"] == 7
    for bad in ("nan", "inf", "1e999", "1_000", "0x10"):
        assert ids(schema, "main", {**base, "ratio": [bad]}) == {"ratio": "form.type"}


def test_unknown_and_duplicate_fields(business: dict[str, Any]) -> None:
    form = {
        "email": ["a@example.com", "b@example.com"],
        "is_admin": ["1"],
        "company": ["ACME"],  # a real property, but of another step
    }

    assert failures(business, "account", form) == {
        "email": ("form.duplicate_field", {"field": "email"}),
        "is_admin": ("form.unknown_field", {"field": "is_admin"}),
        "company": ("form.unknown_field", {"field": "company"}),
    }


def test_nul_is_refused(business: dict[str, Any]) -> None:
    form = {"first_name": ["Ada\x00"], "last_name": ["L"]}

    assert ids(business, "person", form) == {"first_name": "form.invalid"}


@pytest.mark.parametrize("field", ["email", "phone"])
def test_huge_values_are_refused_before_parsing(business: dict[str, Any], field: str) -> None:
    form = {"email": ["a@example.com"], field: ["a" * 9_990 + "@example.com"]}

    assert failures(business, "account", form)[field][0] == "form.too_long"


def test_huge_value_never_reaches_a_slow_pattern(make_schema: MakeSchema) -> None:
    # (a+)+$ backtracks exponentially on "aaaa…!"; the length cap must stop it first.
    schema = make_schema(code={"type": "string", "pattern": "^(a+)+$"})
    form = {"email": ["a@example.com"], "code": ["a" * 10_000 + "!"]}

    started = time.perf_counter()
    found = failures(schema, "main", form)

    assert found == {"code": ("form.too_long", {"max": 1000})}
    assert time.perf_counter() - started < 0.1


def test_maximum_length_counts_after_stripping(business: dict[str, Any]) -> None:
    form = {"first_name": ["  " + "x" * 50 + "  "], "last_name": ["L"]}

    assert read_step(business, "person", form)["first_name"] == "x" * 50


def test_unknown_step(business: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="no step"):
        read_step(business, "nope", {})
