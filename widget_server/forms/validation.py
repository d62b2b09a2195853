"""JSON Schema validation with every failure turned into a message id on a field.

Errors are keyed by top-level property name (the form field); a failure deep inside a
nested object is reported on the property that holds it. ``""`` holds what belongs to no
property. Regular expressions run with RE2 (``regexes.Validator``): time linear in the value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

from widget_server.forms.regexes import FORMAT_CHECKER, Validator
from widget_server.forms.schema import Schema, find_step, is_const, schema_key, steps_by_key
from widget_server.messages import Msg, msg

_PLAIN: dict[str, str] = {
    "pattern": "form.pattern",
    "enum": "form.enum",
    "const": "form.enum",
}
_FORMATS = {
    "email": "form.email_invalid",
    "idn-email": "form.email_invalid",
    "date": "form.date_invalid",
}
_BOUNDS = {
    "minimum": ("form.minimum", "min"),
    "exclusiveMinimum": ("form.minimum", "min"),
    "maximum": ("form.maximum", "max"),
    "exclusiveMaximum": ("form.maximum", "max"),
    "minLength": ("form.too_short", "min"),
    "maxLength": ("form.too_long", "max"),
}
_EXTRA_KEYWORDS = frozenset({"additionalProperties", "unevaluatedProperties"})
# Values that are data, not schemas.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
# Keywords that describe and never fail a value.
_ANNOTATIONS = frozenset({"title", "description", "$comment", "deprecated", "readOnly"})


def validate_payload(schema: Schema, payload: Mapping[str, object]) -> dict[str, list[Msg]]:
    """Check a whole payload against the whole schema; ``{}`` when it is valid."""
    return errors_of(payload_validator(schema_key(schema)), payload)


@lru_cache(maxsize=256)
def payload_validator(key: str) -> Any:
    return Validator(choices_as_enums(json.loads(key)), format_checker=FORMAT_CHECKER)


@lru_cache(maxsize=512)
def step_validator(key: str, step_id: str) -> Any:
    """A validator for one step's values: every property, but only this step's ``required``.

    Whole-object keywords (``allOf``, ``dependentRequired``, ...) are left out: they would
    fail on a partial object, and ``validate_payload`` checks them at the end.
    """
    schema = json.loads(key)
    fields = find_step(steps_by_key(key), step_id).fields
    kept = {k: schema[k] for k in ("$schema", "$id", "$defs", "definitions") if k in schema}
    sub = {
        **kept,
        "type": "object",
        "properties": schema.get("properties", {}),
        "required": [r for r in schema.get("required", []) if r in fields],
    }
    return Validator(choices_as_enums(sub), format_checker=FORMAT_CHECKER)


def choices_as_enums(node: Any) -> Any:
    """``node`` with every list of labelled options (``oneOf`` or ``anyOf`` of
    ``{"const": "DE", "title": "Germany"}`` branches, distinct strings) as the ``enum``
    it amounts to, in the same place among the keywords (so failures come in the same
    order, with the same ``form.enum``). jsonschema checks each ``oneOf`` branch and
    builds an error for every one that does not match: a 14-country list was two thirds
    of a payload's validation (130 µs against 45 µs). Only for validating: forms draw
    the options from the schema as stored."""
    if isinstance(node, list):
        return [choices_as_enums(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for keyword, value in node.items():
        options = _options(value) if keyword in ("oneOf", "anyOf") else None
        if options is not None and "enum" not in node and "enum" not in out:
            out["enum"] = options
        else:
            out[keyword] = value if keyword in _DATA_KEYWORDS else choices_as_enums(value)
    return out


def _options(branches: object) -> list[str] | None:
    """The constants of ``branches`` when each is a constant string and nothing more
    than annotations, and no two are equal (``oneOf`` fails a value two branches match;
    ``enum`` would not)."""
    if not isinstance(branches, list) or not branches:
        return None
    found: list[str] = []
    for branch in branches:
        if not isinstance(branch, Mapping) or not isinstance(branch.get("const"), str):
            return None
        if any(k != "const" and k not in _ANNOTATIONS and not k.startswith("x-") for k in branch):
            return None
        found.append(branch["const"])
    return found if len(set(found)) == len(found) else None


def errors_of(validator: Any, instance: Mapping[str, object]) -> dict[str, list[Msg]]:
    """One message per field (the first failure found), for every failing field."""
    found: dict[str, list[Msg]] = {}
    for error in validator.iter_errors(dict(instance)):
        for field, message in _messages(error, instance, validator.schema):
            found.setdefault(field, [message])
    return found


def _messages(
    error: ValidationError, instance: Mapping[str, object], schema: Mapping[str, Any]
) -> list[tuple[str, Msg]]:
    if error.path:
        return [(str(error.path[0]), message_for(error))]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in instance]
        return [(name, msg("form.required")) for name in missing]
    if error.validator in _EXTRA_KEYWORDS:
        known = schema.get("properties", {})
        return [(k, msg("form.unknown_field", field=k)) for k in instance if k not in known]
    return [("", msg("form.invalid"))]


def message_for(error: ValidationError) -> Msg:
    """The message id for one failed keyword; the English lives in the catalog."""
    keyword, value = error.validator, error.validator_value
    if keyword == "const" and value is True:
        return msg("form.must_accept")
    if keyword in _PLAIN:
        return msg(_PLAIN[keyword])
    if keyword in _BOUNDS:
        message_id, param = _BOUNDS[keyword]
        return Msg(id=message_id, params={param: _param(value)})
    if keyword == "type":
        return msg("form.type", type=_type_word(value))
    if keyword in ("oneOf", "anyOf") and all(is_const(b) for b in value):
        return msg("form.enum")
    if keyword == "required":
        return msg("form.required")
    if keyword == "format":
        return msg(_FORMATS.get(value, "form.invalid"))
    return msg("form.invalid")


def _param(value: object) -> str | int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else str(value)


def _type_word(value: object) -> str:
    names = value if isinstance(value, list) else [value]
    first = next((n for n in names if n != "null"), "string")
    return "number" if first in ("integer", "number") else str(first)
