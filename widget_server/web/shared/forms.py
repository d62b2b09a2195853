"""Reading portal forms into the services' structs, and their errors back onto fields.

A form field is named like the service's error key (``name``, ``password_policy``,
``payload.company``), so an ``InvalidInput`` from a service lands under the control
that caused it without a mapping table. What is wrong before a service is called (a
number that is not one, JSON that does not parse) is collected the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from widget_server.errors import InvalidInput
from widget_server.messages import Msg, msg
from widget_server.web.shared.errors import explain

T = TypeVar("T")
Errors = dict[str, list[Msg]]
#: A JSON text field accepts at most this many characters (the body limit caps it anyway).
MAX_JSON = 60_000
_PATH = re.compile(r"at `\$\.?([A-Za-z0-9_.\[\]]*)`")


def text(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name) or ()
    return values[0].strip() if values else ""


def checked(form: Mapping[str, Sequence[str]], name: str) -> bool:
    return bool(form.get(name))


def lines(form: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """A textarea of one entry per line (commas work too); blank entries dropped."""
    return [part.strip() for part in re.split(r"[\n,]", text(form, name)) if part.strip()]


def number(form: Mapping[str, Sequence[str]], name: str, errors: Errors) -> int | None:
    raw = text(form, name)
    if not raw:
        return None
    if not re.fullmatch(r"-?\d{1,9}", raw):
        errors.setdefault(name, []).append(msg("admin.not_a_number"))
        return None
    return int(raw)


def json_object(
    form: Mapping[str, Sequence[str]], name: str, errors: Errors
) -> dict[str, Any] | None:
    raw = text(form, name)
    if len(raw) > MAX_JSON:
        errors.setdefault(name, []).append(msg("admin.too_large", max=MAX_JSON))
        return None
    try:
        value = json.loads(raw or "{}")
    except ValueError as exc:
        errors.setdefault(name, []).append(msg("admin.json_invalid", detail=str(exc)[:200]))
        return None
    if not isinstance(value, dict):
        errors.setdefault(name, []).append(msg("admin.json_object"))
        return None
    return value


def convert(data: Mapping[str, Any], kind: type[T], errors: Errors) -> T:
    """``data`` as ``kind``; a refusal becomes an ``InvalidInput`` on the field it names,
    together with every error collected so far."""
    try:
        value = msgspec.convert(dict(data), kind)
    except msgspec.ValidationError as exc:
        match = _PATH.search(str(exc))
        field = match.group(1) if match else ""
        errors.setdefault(field, []).append(msg("admin.invalid_value", detail=str(exc)[:200]))
        raise InvalidInput(errors) from None
    if errors:
        raise InvalidInput(errors)
    return value


def by_field(exc: InvalidInput) -> tuple[dict[str, tuple[Msg, ...]], tuple[Msg, ...]]:
    """(messages by field, form-level messages) of a refusal, as ``explain`` splits them."""
    said = explain(exc)
    return said.errors, said.alerts


def pretty(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


# --- the app form (operator portal and developer portal) -----------------------------------


def blank_app() -> dict[str, Any]:
    """The register-an-app form as it first shows."""
    return {
        "name": "",
        "id": "",
        "kind": "confidential",
        "pool_ids": [],
        "redirect_uris": "",
        "allowed_origins": "",
        "scopes": ["email"],
    }


def app_form(form: Mapping[str, Sequence[str]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the values to draw the form again with, the data for ``admin.apps.NewApp``)."""
    values = {
        "name": text(form, "name"),
        "id": text(form, "id"),
        "kind": text(form, "kind"),
        "pool_ids": [p for p in form.get("pool_ids", []) if p],
        "redirect_uris": text(form, "redirect_uris"),
        "allowed_origins": text(form, "allowed_origins"),
        "scopes": [s for s in form.get("scopes", []) if s],
    }
    data = values | {
        "id": values["id"] or None,
        "redirect_uris": lines(form, "redirect_uris"),
        "allowed_origins": lines(form, "allowed_origins"),
    }
    return values, data


def rotation_form(form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The data for ``admin.apps.SecretRotation`` from a rotate form's ``grace_seconds``
    (a choice; anything else is refused by the service with the allowed values)."""
    errors: Errors = {}
    grace = number(form, "grace_seconds", errors)
    if errors:
        raise InvalidInput(errors)
    return {"grace_seconds": grace or 0}
