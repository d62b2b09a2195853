"""Schema + step + values + messages → form nodes. The partials in ``widgets/nodes`` draw them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgspec

from widget_server.forms.browser_pattern import browser_pattern
from widget_server.forms.nodes import FormNode, NodeType, Option
from widget_server.forms.schema import (
    Schema,
    as_text,
    find_step,
    is_phone,
    kind_of,
    options_of,
    properties,
    required_names,
    schema_key,
    steps_by_key,
)
from widget_server.messages import Msg, msg

# The server refuses longer strings (see reading.HARD_CAP), so the browser should too.
_BROWSER_MAX_LENGTH = 1000
_AUTOCOMPLETE = {"email": "email", "tel": "tel", "password": "new-password"}


def nodes_for_step(
    schema: Schema,
    step_id: str,
    values: Mapping[str, object],
    errors: Mapping[str, Sequence[Msg]],
) -> tuple[FormNode, ...]:
    """One node per field of the step, re-filled from ``values``, with ``errors`` by name.

    ``values`` may hold typed values (from ``read_step``) or the submitted strings
    (lists of them, as a form arrives) when redrawing a refused form.
    """
    base = _base_nodes(schema_key(schema), step_id)
    return tuple(_fill(node, values.get(node.name), errors.get(node.name, ())) for node in base)


@lru_cache(maxsize=512)
def _base_nodes(key: str, step_id: str) -> tuple[FormNode, ...]:
    schema = json.loads(key)
    step = find_step(steps_by_key(key), step_id)
    props = properties(schema)
    required = required_names(schema)
    return tuple(_node(name, props[name], name in required) for name in step.fields)


def _node(name: str, prop: Mapping[str, Any], required: bool) -> FormNode:
    kind = kind_of(prop)
    options = options_of(prop)
    node_type, input_type = _control(name, kind, prop, options is not None)
    return FormNode(
        type=node_type,
        name=name,
        input_type=input_type,
        label=_text_or_none(prop.get("title")),
        help=_text_or_none(prop.get("description")),
        # A const-true checkbox (terms) cannot be left unchecked, so it is required too.
        required=required or (kind == "boolean" and prop.get("const") is True),
        options=tuple(Option(value=v, label=label) for v, label in options or ()),
        attributes=_attributes(node_type, input_type, kind, prop),
    )


def _control(
    name: str, kind: str, prop: Mapping[str, Any], has_options: bool
) -> tuple[NodeType, str]:
    widget = prop.get("x-widget")
    if widget == "hidden":
        return "hidden", "hidden"
    if has_options:
        return ("radio" if widget == "radio" else "select"), "text"
    if kind == "boolean":
        return "checkbox", "checkbox"
    if kind in ("integer", "number"):
        return "input", "number"
    if widget == "textarea":
        return "textarea", "text"
    return "input", _input_type(name, prop)


def _input_type(name: str, prop: Mapping[str, Any]) -> str:
    if _is_password(name, prop.get("x-widget")):
        return "password"
    if prop.get("format") == "email":
        return "email"
    if prop.get("format") == "date":
        return "date"
    if is_phone(prop):
        return "tel"
    return "text"


def _attributes(
    node_type: str, input_type: str, kind: str, prop: Mapping[str, Any]
) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if node_type in ("input", "textarea") and kind == "string" and input_type != "date":
        attributes.update(_text_attributes(prop))
    if input_type == "number":
        attributes.update(_number_attributes(kind, prop))
    autocomplete = prop.get("x-autocomplete", _AUTOCOMPLETE.get(input_type))
    hints = {
        "autocomplete": autocomplete,
        "inputmode": prop.get("x-inputmode"),
        "placeholder": prop.get("x-placeholder"),
    }
    if node_type != "hidden":
        attributes.update({k: str(v) for k, v in hints.items() if v is not None})
    return attributes


def _text_attributes(prop: Mapping[str, Any]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    if isinstance(prop.get("minLength"), int):
        attributes["minlength"] = str(prop["minLength"])
    max_length = prop.get("maxLength")
    limit = _BROWSER_MAX_LENGTH
    if isinstance(max_length, int):
        limit = min(max_length, limit)
    attributes["maxlength"] = str(limit)
    pattern = prop.get("pattern")
    # Only where the browser reads it as the server does; the server checks it anyway.
    html_pattern = browser_pattern(pattern) if isinstance(pattern, str) else None
    if html_pattern is not None:
        attributes["pattern"] = html_pattern
    return attributes


def _number_attributes(kind: str, prop: Mapping[str, Any]) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for keyword, attribute in (("minimum", "min"), ("maximum", "max"), ("multipleOf", "step")):
        value = prop.get(keyword)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[attribute] = as_text(value)
    # Without a step the browser refuses decimals; "any" lets a `number` take them.
    attributes.setdefault("step", "1" if kind == "integer" else "any")
    return attributes


def _fill(node: FormNode, raw: object, messages: Sequence[Msg]) -> FormNode:
    value = _display_value(node, raw)
    options = node.options
    if node.type == "select" and value in (None, ""):
        options = (Option(value="", label=msg("form.choose").text()), *options)
    return msgspec.structs.replace(
        node,
        value=value,
        options=options,
        # A copy, so a caller adding hx-* attributes cannot change the cached node.
        attributes=dict(node.attributes),
        messages=tuple(messages),
    )


def _display_value(node: FormNode, raw: object) -> str | bool | None:
    if isinstance(raw, list | tuple):
        raw = raw[0] if raw else None
    if node.input_type == "password" or _is_password(node.name, None):
        return None  # Never echo a password back into the page.
    if node.type == "checkbox":
        return raw is True or (isinstance(raw, str) and raw.strip().lower() in ("on", "true", "1"))
    return None if raw is None else as_text(raw)


def _is_password(name: str, widget: object) -> bool:
    return widget == "password" or "password" in name.lower()


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
