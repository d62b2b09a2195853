"""Submitted form fields → typed values for one step, or ``InvalidInput`` with every failure."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from widget_server.canonical import IdentifierRefused, email_address
from widget_server.errors import InvalidInput
from widget_server.forms.schema import (
    Schema,
    Step,
    find_step,
    is_phone,
    kind_of,
    properties,
    schema_key,
    steps_by_key,
)
from widget_server.forms.validation import errors_of, payload_validator, step_validator
from widget_server.messages import Msg, msg
from widget_server.phones import PhoneRefused, default_region_for, normalise_phone

# Longer values are refused before any parsing, so regexes and parsers see bounded input.
HARD_CAP = 1000
_TRUE = frozenset({"on", "true", "1"})
_FALSE = frozenset({"", "off", "false", "0"})
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class _Rejected(Exception):
    def __init__(self, message: Msg) -> None:
        super().__init__(message.id)
        self.message = message


def read_step(
    schema: Schema,
    step_id: str,
    form: Mapping[str, Sequence[str]],
    *,
    phone_regions: Sequence[str] = (),
    earlier: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """Typed, normalised values of ``step_id``'s fields from ``form`` (control fields removed).

    Empty optional fields are left out; an unchecked checkbox is ``False``. Phone fields
    follow ``widget_server.phones`` and, given the pool's ``phone_regions``, its regions.

    The values are checked against the step's part of the schema; given ``earlier`` (the
    values of the steps before, on the last step), the whole payload ``merge_step``
    makes of them is checked against the whole schema instead, in one pass.
    """
    key = schema_key(schema)
    step = find_step(steps_by_key(key), step_id)
    props = properties(schema)
    errors = _shape_errors(step, form)
    values: dict[str, object] = {}
    for name in step.fields:
        if name in errors:
            continue
        try:
            value = _read_field(props[name], _single(form.get(name)), phone_regions)
        except _Rejected as rejected:
            errors[name] = [rejected.message]
            continue
        if value is not None:
            values[name] = value
    if earlier is None:
        problems = errors_of(step_validator(key, step_id), values)
    else:
        problems = errors_of(payload_validator(key), merge_step(earlier, values))
    for name, messages in problems.items():
        errors.setdefault(name, messages)
    if errors:
        raise InvalidInput(errors)
    return values


def merge_step(earlier: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The payload after a step: its values over the ones stored before it."""
    return {k: v for k, v in earlier.items() if k not in values} | dict(values)


def _shape_errors(step: Step, form: Mapping[str, Sequence[str]]) -> dict[str, list[Msg]]:
    errors: dict[str, list[Msg]] = {}
    for name, sent in form.items():
        if name not in step.fields:
            errors[name] = [msg("form.unknown_field", field=name[:100])]
        elif not isinstance(sent, str) and len(sent) > 1:
            errors[name] = [msg("form.duplicate_field", field=name)]
    return errors


def _single(sent: Sequence[str] | None) -> str | None:
    if isinstance(sent, str):
        return sent
    return sent[0] if sent else None


def _read_field(prop: Mapping[str, Any], raw: str | None, regions: Sequence[str] = ()) -> object:
    """The typed value, ``None`` for "not given", or ``_Rejected``."""
    kind = kind_of(prop)
    if raw is None:
        return False if kind == "boolean" else None
    max_length = prop.get("maxLength")
    limit = min(max_length, HARD_CAP) if isinstance(max_length, int) else HARD_CAP
    if len(raw) > HARD_CAP:
        raise _Rejected(msg("form.too_long", max=limit))
    if "\x00" in raw:
        raise _Rejected(msg("form.invalid"))  # PostgreSQL text cannot hold NUL.
    text = raw.strip()
    if len(text) > limit:
        raise _Rejected(msg("form.too_long", max=limit))
    if kind == "boolean":
        return _read_boolean(text)
    if not text:
        return None
    if kind in ("integer", "number"):
        return _read_number(text, kind)
    return _read_string(prop, text, regions)


def _read_boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _Rejected(msg("form.type", type="boolean"))


def _read_number(text: str, kind: str) -> int | float:
    if _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number" and _NUMBER.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    raise _Rejected(msg("form.type", type="number"))


def _read_string(prop: Mapping[str, Any], text: str, regions: Sequence[str] = ()) -> str:
    fmt = prop.get("format")
    if fmt in ("email", "idn-email"):
        return _read_email(text)
    if is_phone(prop):
        region = default_region_for(prop.get("x-default-region"), regions)
        try:
            return normalise_phone(text, default_region=region, regions=regions)
        except PhoneRefused as refused:
            raise _Rejected(refused.message) from None
    if fmt == "date":
        return _read_date(text)
    return text


def _read_email(text: str) -> str:
    try:
        return email_address(text)
    except IdentifierRefused as refused:
        raise _Rejected(refused.message) from None


def _read_date(text: str) -> str:
    try:
        if _DATE.fullmatch(text):
            return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise _Rejected(msg("form.date_invalid"))
