"""Custom schemas: every unsafe shape refused with its message id; ordinary ones pass.
Patterns run with RE2: catastrophic shapes are harmless (measured fast), what only a
backtracking engine runs (backreferences, look-around) is refused with its message id."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

import pytest

from tests.forms.conftest import BUSINESS, DRAFT
from widget_server.errors import InvalidInput
from widget_server.flows.inputs import CONTROL
from widget_server.forms import check_schema, validate_payload
from widget_server.forms.regexes import (
    MAX_PATTERN_LENGTH,
    MAX_PROGRAM_SIZE,
    matches,
    pattern_problem,
)
from widget_server.forms.safety import (
    MAX_DEPTH,
    MAX_PROPERTIES,
    MAX_SCHEMA_BYTES,
    check_custom_schema,
    schema_problems,
)
from widget_server.messages import CATALOG
from widget_server.seed import BUILTIN_SCHEMAS, load_builtin_schema


def payload(**props: Any) -> dict[str, Any]:
    """A payload schema that passes, plus ``props``."""
    return {
        "$schema": DRAFT,
        "type": "object",
        "properties": {
            "email": {"type": "string", "format": "email", "x-identifier": True},
            **props,
        },
        "required": ["email"],
    }


def nested(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        node = {"type": "object", "properties": {"x": node}}
    return node


def problem_ids(body: object, kind: Any = "payload") -> list[str]:
    return [m.id for m in schema_problems(body, kind)]


BAD: list[tuple[str, object, str]] = [
    ("a list", [payload()], "schema.not_object"),
    ("a string", "{}", "schema.not_object"),
    ("null", None, "schema.not_object"),
    ("unknown type", payload(age={"type": "strin"}), "schema.invalid"),
    ("minLength negative", payload(name={"type": "string", "minLength": -1}), "schema.invalid"),
    ("required not a list", {**payload(), "required": "email"}, "schema.invalid"),
    (
        "draft-07",
        {**payload(), "$schema": "http://json-schema.org/draft-07/schema#"},
        "schema.draft",
    ),
    ("array root", {"$schema": DRAFT, "type": "array"}, "schema.type_object"),
    ("no type", {"properties": {}}, "schema.type_object"),
    ("remote ref", payload(a={"$ref": "https://evil.example/s.json"}), "schema.remote_ref"),
    ("relative ref", payload(a={"$ref": "other.json#/x"}), "schema.remote_ref"),
    ("anchor ref", payload(a={"$ref": "#anchor"}), "schema.remote_ref"),
    ("file ref", payload(a={"$ref": "file:///etc/passwd"}), "schema.remote_ref"),
    ("dynamic ref", payload(a={"$dynamicRef": "https://evil.example/s"}), "schema.remote_ref"),
    ("ref to nothing", payload(a={"$ref": "#/$defs/missing"}), "schema.dangling_ref"),
    (
        "$ref loop through allOf",
        {**payload(a={"$ref": "#/$defs/a"}), "$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}},
        "schema.ref_cycle",
    ),
    (
        "$ref loop over two definitions",
        {
            **payload(a={"$ref": "#/$defs/a"}),
            "$defs": {
                "a": {"$ref": "#/$defs/b"},
                "b": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/a"}]},
            },
        },
        "schema.ref_cycle",
    ),
    ("$ref loop to the root", {**payload(), "allOf": [{"$ref": "#"}]}, "schema.ref_cycle"),
    ("nested $id", payload(a={"$id": "https://x.example/a", "type": "string"}), "schema.nested_id"),
    (
        "backreference",
        payload(a={"type": "string", "pattern": r"^(a)\1$"}),
        "schema.unsupported_pattern",
    ),
    (
        "look-ahead in $defs",
        {**payload(), "$defs": {"d": {"type": "string", "pattern": r"^(?!admin$)\w+$"}}},
        "schema.unsupported_pattern",
    ),
    (
        "look-behind in patternProperties",
        {**payload(), "patternProperties": {"(?<=x)a": {"type": "string"}}},
        "schema.unsupported_pattern",
    ),
    (
        "backreference in propertyNames",
        {**payload(), "propertyNames": {"pattern": r"(.)\1"}},
        "schema.unsupported_pattern",
    ),
    (
        "unevaluatedProperties with patternProperties",
        {**payload(), "patternProperties": {"^x_": {}}, "unevaluatedProperties": False},
        "schema.unevaluated_pattern_properties",
    ),
    (
        "pattern does not compile",
        payload(a={"type": "string", "pattern": "(ab"}),
        "schema.bad_pattern",
    ),
    (
        "pattern too long",
        payload(a={"type": "string", "pattern": "a" * (MAX_PATTERN_LENGTH + 1)}),
        "schema.pattern_too_long",
    ),
    ("too large", {**payload(), "description": "x" * MAX_SCHEMA_BYTES}, "schema.too_large"),
    ("too deep", payload(a=nested(MAX_DEPTH)), "schema.too_deep"),
    ("hostile depth", payload(a=nested(5000)), "schema.too_deep"),
    (
        "too many properties",
        payload(**{f"p{i}": {"type": "string"} for i in range(MAX_PROPERTIES)}),
        "schema.too_many_properties",
    ),
    ("not JSON", {**payload(), "minimum": float("nan")}, "schema.invalid"),
    ("no identifier", {"$schema": DRAFT, "type": "object", "properties": {}}, "schema.payload"),
    ("identifier not required", {**payload(), "required": []}, "schema.payload"),
    ("bad widget hint", payload(a={"type": "string", "x-widget": "iframe"}), "schema.payload"),
]


@pytest.mark.parametrize(
    ("body", "expected"), [(b, e) for _, b, e in BAD], ids=[n for n, _, _ in BAD]
)
def test_bad_schema_is_refused_with_its_message(body: object, expected: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_custom_schema(body, "payload")
    assert list(refused.value.messages) == ["body"]
    assert [m.id for m in refused.value.messages["body"]] == [expected]
    assert all(m.id in CATALOG for m in refused.value.messages["body"])


def test_messages_say_where_and_why() -> None:
    [invalid] = schema_problems(payload(age={"type": "strin"}), "payload")
    assert invalid.params["where"] == "#/properties/age/type"
    assert invalid.params["detail"]
    backreference = payload(code={"type": "string", "pattern": r"(a)\1"})
    [unsupported] = schema_problems(backreference, "payload")
    assert unsupported.params == {
        "where": "#/properties/code/pattern",
        "detail": r"invalid escape sequence: \1",
    }
    [remote] = schema_problems(payload(a={"$ref": "https://evil.example/s"}), "payload")
    assert remote.params == {"where": "#/properties/a"}
    [big] = schema_problems({**payload(), "description": "x" * MAX_SCHEMA_BYTES}, "payload")
    assert big.params == {"max": MAX_SCHEMA_BYTES}
    [payload_problem] = schema_problems({**payload(), "required": []}, "payload")
    assert "required" in str(payload_problem.params["detail"])


def test_pattern_property_key_is_escaped_as_a_json_pointer() -> None:
    body = {**payload(), "patternProperties": {"^a/(?=b)": {}}}
    [unsupported] = schema_problems(body, "payload")
    assert unsupported.params["where"] == "#/patternProperties/^a~1(?=b)"


def test_every_problem_is_reported_at_once() -> None:
    body = payload(
        a={"$ref": "https://evil.example/s"},
        b={"type": "string", "pattern": r"(x)\1y"},
        c={"type": "strin"},
    )
    assert sorted(problem_ids(body)) == [
        "schema.invalid",
        "schema.remote_ref",
        "schema.unsupported_pattern",
    ]


def test_a_broken_pattern_is_reported_once() -> None:
    assert problem_ids(payload(a={"type": "string", "pattern": "["})) == ["schema.bad_pattern"]
    body = {**payload(), "patternProperties": {"[": {}}}
    assert problem_ids(body) == ["schema.bad_pattern"]


@pytest.mark.parametrize("name", sorted(BUILTIN_SCHEMAS))
def test_the_demo_schemas_pass(name: str) -> None:
    check_custom_schema(load_builtin_schema(name), "payload")


def test_the_forms_test_schema_with_refs_and_patterns_passes() -> None:
    check_custom_schema(copy.deepcopy(BUSINESS), "payload")


def test_a_ref_loop_is_refused_with_where_it_loops() -> None:
    # Validating with it recursed until Python's limit: a RecursionError, or a panic from
    # the Rust-backed registry jsonschema uses (a BaseException that escapes handlers).
    body = {**payload(a={"$ref": "#/$defs/a"}), "$defs": {"a": {"not": {"$ref": "#/$defs/a"}}}}
    [cycle] = schema_problems(body, "payload")
    assert (cycle.id, cycle.params) == ("schema.ref_cycle", {"where": "#/$defs/a"})


def test_recursion_that_reads_deeper_into_the_data_is_allowed() -> None:
    node = {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}
    shared = {"type": "string", "maxLength": 10}
    body = {
        **payload(tree={"$ref": "#/$defs/node"}, a={"$ref": "#/$defs/both"}),
        "$defs": {
            "node": node,
            "both": {"allOf": [{"$ref": "#/$defs/shared"}, {"$ref": "#/$defs/shared"}]},
            "shared": shared,
        },
    }
    check_custom_schema(body, "metadata")
    assert validate_payload(body, {"email": "ann@example.com", "tree": {"child": {}}}) == {}


def test_local_refs_pass() -> None:
    body = {**payload(a={"$ref": "#/$defs/code"}), "$defs": {"code": {"type": "string"}}}
    check_custom_schema(body, "payload")


METADATA: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object",
    "properties": {
        "roles": {"type": "array", "items": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"}},
        "groups": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "customer_number": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{6}$"},
    },
    "additionalProperties": False,
}


def test_metadata_schema_needs_no_identifier_nor_form_hints() -> None:
    check_custom_schema(METADATA, "metadata")
    # The same body is no sign-up form: it has no identifier.
    assert problem_ids(METADATA, "payload") == ["schema.payload"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"$schema": DRAFT, "type": "array"}, "schema.type_object"),
        ({**METADATA, "properties": {"r": {"$ref": "http://x.example/r"}}}, "schema.remote_ref"),
        (
            {**METADATA, "properties": {"n": {"type": "string", "pattern": "(\\d)\\1"}}},
            "schema.unsupported_pattern",
        ),
        ({**METADATA, "properties": {"n": {"type": "nope"}}}, "schema.invalid"),
    ],
)
def test_metadata_schema_gets_the_same_safety_checks(body: dict[str, Any], expected: str) -> None:
    assert problem_ids(body, "metadata") == [expected]


def test_check_schema_refuses_patterns_re2_cannot_run_too() -> None:
    # The hook: any path that accepts a payload schema refuses what RE2 does not compile.
    with pytest.raises(ValueError, match="properties/a/pattern"):
        check_schema(payload(a={"type": "string", "pattern": "^(?=a)"}))
    with pytest.raises(ValueError, match="unevaluatedProperties"):
        check_schema({**payload(), "patternProperties": {"^x": {}}, "unevaluatedProperties": {}})
    check_schema(payload(a={"type": "string", "pattern": "^(a+)+$"}))


# Regular expressions -------------------------------------------------------------------

# The shapes the removed static check refused: a backtracking engine takes exponential
# (or high polynomial) time on them. RE2 runs each in time linear in the input, so they
# are accepted now, and measured fast on the attack strings below.
REDOS = [
    "(a+)+",
    "(a*)*",
    "(a|a)*",
    r"(\w+\s?)+",
    "(.*a){20}",
    "^(a+)+$",
    r"^([a-zA-Z0-9]+[-_]?)*[a-zA-Z0-9]+$",
    r"^(\d+)*$",
    "(a?)+",
    "((ab)*)*",
    "(x+x+)+y",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(\d|\d\d)+",
    r"^(\w+\.?)+@",
    "(.*){1,100}",
    r"(\s*,\s*)*x",
    "(a|b|ab)*c",
    "(?:a+a*)+b",
    r"(?:\d+\.?\d*,)+x",
    "(?:.*,){10}x",
    "(?i)(?:a|A|b)*?c(?:X+x+)+",
    r"^(?:[a-z]+\d*)+$",
    "a?" * 20 + "a" * 20,
    r"^.*a.*a.*a$",
    r"^\S+@\S+\.\S+$",
    r"\d*\d*\d*x",
]

ORDINARY = [
    r"^[A-Z]{2}[0-9]{6}$",
    r"^\+?[0-9 ]{6,20}$",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    r"^[\w.+-]+@[\w-]+(\.[\w-]+)*$",
    r"^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}$",
    r"^[^@\s]+@(?:[^@\s.]+\.)+[^@\s.]+$",
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,}$",
    r"^(\d{1,3}\.){3}\d{1,3}$",
    r"^[^<>]+$",
    r"^\d{5}$",
    r"^[0-9]{4,5}$",
    r"^\d{4}-\d{2}-\d{2}$",
    r"^[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?$",
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    r"^[A-Z][a-z]+(?: [A-Z][a-z]+)*$",
    r"^[^\W\d_]+(?:[ '-][^\W\d_]+)*$",
    r"(?i)^[a-z ]+$",
    r"^\S+@\S+$",
    r"^(?:\+49|0)[1-9][0-9 ]{5,14}$",
    r"^\d+(?:[.,]\d{1,2})?$",
    r"^(a|ab)*$",
    "^[a-z][a-z0-9_-]*$",
    r"^\p{L}+$",
]

# Only a backtracking engine runs these; RE2 refuses them, so a schema cannot hold them.
UNSUPPORTED = [
    r"(a)\1",
    r"(?P<x>a)(?P=x)",
    r"^(?!admin$)[a-z][a-z0-9_]{2,31}$",
    r"(?=(a+)+b)",
    r"(?<=@)x",
    r"(?<!x)y",
    r"a\Z",
    "(.*){1,32000}",
]


@pytest.mark.parametrize("pattern", [*ORDINARY, *REDOS])
def test_ordinary_and_once_catastrophic_patterns_are_accepted(pattern: str) -> None:
    assert pattern_problem(pattern) is None
    assert problem_ids(payload(a={"type": "string", "pattern": pattern})) == []


@pytest.mark.parametrize("pattern", UNSUPPORTED)
def test_a_pattern_only_backtracking_runs_is_refused(pattern: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None
    assert (problem.reason, bool(problem.detail)) == ("unsupported", True)
    [refused] = schema_problems(payload(a={"type": "string", "pattern": pattern}), "payload")
    assert refused.id == "schema.unsupported_pattern"
    assert refused.params["where"] == "#/properties/a/pattern"


def _attack_strings(pattern: str) -> list[str]:
    """Long runs of each character the pattern names (and a few classics), each ending in
    a character that breaks the match: what makes a backtracking engine try every split."""
    named = {c for c in pattern if c.isprintable()} | set("a0 .-_@A")
    runs = [c * 999 + "!" for c in named]
    runs += [(c + d) * 499 + "!\x00" for c in "a0 .-@" for d in "a0 .-@" if c != d]
    runs += [c * 500 + d * 499 + "!" for c in "a@." for d in "a@." if c != d]
    return runs


@pytest.mark.parametrize("pattern", [*ORDINARY, *REDOS])
def test_patterns_stay_fast_on_hostile_input_at_the_form_cap(pattern: str) -> None:
    started = time.perf_counter()
    for text in _attack_strings(pattern):
        matches(pattern, text)
    # 1000-character values (the form cap), dozens of attacks: well under a second.
    assert time.perf_counter() - started < 1.0


def test_a_catastrophic_pattern_validates_in_well_under_100_ms() -> None:
    schema = payload(code={"type": "string", "pattern": "^(a+)+$"})
    validate_payload(schema, {"email": "ann@example.com"})  # compile and cache the validator
    started = time.perf_counter()
    errors = validate_payload(schema, {"email": "ann@example.com", "code": "a" * 50 + "!"})
    assert time.perf_counter() - started < 0.1
    assert [m.id for m in errors["code"]] == ["form.pattern"]
    assert validate_payload(schema, {"email": "ann@example.com", "code": "a" * 50}) == {}


def test_pattern_properties_and_additional_properties_run_with_re2() -> None:
    schema = {
        **payload(),
        "patternProperties": {"^(x+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    check_custom_schema(schema, "metadata")
    hostile = "x" * 50 + "!"
    started = time.perf_counter()
    errors = validate_payload(schema, {"email": "ann@example.com", hostile: 1, "xx": "two"})
    assert time.perf_counter() - started < 0.1
    assert [m.id for m in errors[hostile]] == ["form.unknown_field"]
    assert [m.id for m in errors["xx"]] == ["form.type"]


def test_re2_dialect_is_the_ecma_one_json_schema_names() -> None:
    # \d is ASCII (Python re would take Arabic-Indic digits), $ is the end of the text
    # (Python re also matches before a final newline).
    assert not matches(r"^\d+$", "\u0663\u0664")
    assert not matches(r"^a$", "a\n")
    assert matches(r"^\p{L}+$", "\u00e9t\u00e9")


def test_a_pattern_stored_before_re2_that_it_refuses_fails_closed() -> None:
    # Such a schema passed the old check (a look-ahead was fine for Python re): its
    # pattern now matches nothing rather than raising on every submission.
    schema = payload(user={"type": "string", "pattern": "^(?!admin$)[a-z]+$"})
    errors = validate_payload(schema, {"email": "ann@example.com", "user": "ann"})
    assert [m.id for m in errors["user"]] == ["form.pattern"]


def test_format_regex_is_checked_by_re2_too() -> None:
    # The metaschema says "format": "regex" for "pattern"; RE2 decides, not Python re.
    schema = payload(rule={"type": "string", "format": "regex"})
    assert validate_payload(schema, {"email": "ann@example.com", "rule": r"^\p{L}+$"}) == {}
    errors = validate_payload(schema, {"email": "ann@example.com", "rule": "(a)\\1"})
    assert [m.id for m in errors["rule"]] == ["form.invalid"]


def test_the_python_premise_is_real() -> None:
    # Why RE2: Python re (what jsonschema runs by default) grows exponentially here.
    def seconds(n: int) -> float:
        started = time.perf_counter()
        re.match(r"^(a+)+$", "a" * n + "!")
        return time.perf_counter() - started

    assert seconds(22) > 8 * seconds(16)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(ab", "invalid"),
        ("[z-a]", "invalid"),
        ("a" * (MAX_PATTERN_LENGTH + 1), "too_long"),
        (".{0,1000}", "too_complex"),
        ("(.*){1,1000}", "too_complex"),
        (r"\p{L}{1000}", "too_complex"),
    ],
)
def test_broken_and_over_long_patterns(pattern: str, reason: str) -> None:
    problem = pattern_problem(pattern)
    assert problem is not None
    assert problem.reason == reason
    if reason != "too_long":
        assert problem.detail
    if reason == "too_complex":
        [refused] = schema_problems(payload(a={"type": "string", "pattern": pattern}), "payload")
        assert refused.id == "schema.pattern_too_complex"
        assert refused.params["max"] == MAX_PROGRAM_SIZE


def test_pattern_nested_hundreds_deep_is_answered_not_crashed() -> None:
    problem = pattern_problem("(" * 490 + "a" + ")" * 490)
    assert problem is None or problem.reason in ("invalid", "unsupported")


@pytest.mark.parametrize(
    "pattern",
    [
        "(?:a" * 150 + ")?" * 150,
        "(?:a" * 90 + "b)+" * 90,
        "(?:(?:a|" * 60 + "b" + ")x)+" * 60,
        "(?:" + r"x[a-z]+y\d+" * 60 + ")+",
        "(?:" + "|".join(f"{chr(97 + i % 26)}{i}" for i in range(150)) + ")*",
        "[ab]?" * 200,
    ],
    ids=["optional", "loops", "alternations", "sequence", "branches", "optionals"],
)
def test_the_longest_patterns_compile_and_run_fast(pattern: str) -> None:
    assert len(pattern) <= MAX_PATTERN_LENGTH
    started = time.perf_counter()
    if pattern_problem(pattern) is None:
        for text in ("a" * 999 + "!", "ab" * 499 + "!"):
            matches(pattern, text)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("name", sorted(CONTROL))
def test_a_property_named_like_the_forms_own_fields_is_refused(name: str) -> None:
    """The form posts these beside the schema's fields: a property of the same name would
    make every registration of the pool unreadable ("The form could not be read")."""
    problems = schema_problems(payload(**{name: {"type": "string"}}), "payload")
    assert [(m.id, m.params["name"]) for m in problems] == [("schema.reserved_field", name)]
    # Metadata is never posted by the widget: the name is free there.
    metadata = {"type": "object", "properties": {name: {"type": "string"}}}
    assert schema_problems(metadata, "metadata") == []
