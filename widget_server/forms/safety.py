"""Is an admin's uploaded identity schema safe to store and to run on every request?

A custom schema is validated against user input on the hot path, by jsonschema, in the
server's process. So before it is stored we refuse what would hurt there, each with its
own message id on the ``body`` field:

- too large, too deep or too many properties (work per validation and per form render);
- not a valid draft 2020-12 schema, or another draft;
- ``$ref`` that leaves the document (jsonschema would fetch it over the network) or
  points to nothing, and ``$id`` below the root (it would re-base those references);
- ``pattern`` / ``patternProperties`` regexes that are over-long, compile to too large a
  program (RE2's time is the value's length times that size), or that RE2, the
  linear-time engine validation runs them with, does not compile (``regexes``): not a
  regex at all, or a backreference or look-around, which need backtracking; and
  ``unevaluatedProperties`` next to ``patternProperties`` (jsonschema would run those
  patterns with Python ``re`` for it);
- payload schemas the widget cannot draw (``check_schema``: the identifier, the ``x-``
  hints). Metadata schemas need only describe an object: admins, not the form, fill them.

Validation-time work stays bounded: RE2 runs in time linear in the value, and every
value reaches it short (the form reader refuses values over ``reading.HARD_CAP``, 1000
characters, before validating). Callers that validate JSON from the admin API must cap
string lengths too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from widget_server.errors import InvalidInput
from widget_server.forms.regexes import (
    MAX_PATTERN_LENGTH,
    MAX_PROGRAM_SIZE,
    META_VALIDATOR,
    pattern_problem,
)
from widget_server.forms.schema import (
    DRAFT_2020_12,
    check_schema,
    patterns,
    pointer_part,
    ref_target,
    refs,
    unevaluated_pattern_properties,
)
from widget_server.messages import Msg, msg

SchemaKind = Literal["payload", "metadata"]

MAX_SCHEMA_BYTES = 64 * 1024
"""Serialised size cap: ten times the largest built-in schema, far more than a form needs."""
MAX_DEPTH = 32
"""Nesting of JSON objects and arrays; also keeps jsonschema's recursion far from Python's limit."""
MAX_PROPERTIES = 256
"""Property definitions in the whole schema (``properties`` and ``patternProperties`` entries)."""
MAX_REPORTED = 5
"""Schema errors reported at once; past a few, the admin fixes and re-submits anyway."""
_DETAIL_CAP = 300

_IDENTITY_KEYWORDS = frozenset({"$id"})

CONTROL_FIELDS = frozenset(
    {"flow_id", "csrf_token", "flow_ticket", "action", "step", "password", "code"}
)
"""The names the widget's forms post beside the schema's fields (``flows/inputs.py``):
no payload schema may use them for a property."""
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


def check_custom_schema(body: object, kind: SchemaKind) -> None:
    """Refuse ``body`` unless it is safe to store as a ``kind`` schema: ``InvalidInput``
    with every problem found, under ``"body"``."""
    problems = schema_problems(body, kind)
    if problems:
        raise InvalidInput({"body": problems})


def schema_problems(body: object, kind: SchemaKind) -> list[Msg]:
    if not isinstance(body, Mapping):
        return [msg("schema.not_object")]
    # Cheap bounds first, so nothing below walks a huge or deep document.
    bounds = _bounds_problem(body)
    if bounds is not None:
        return [bounds]
    found = [*_pattern_problems(body), *_ref_problems(body)]
    # A broken pattern is also a metaschema error ("not a regex"): say it once, our way.
    reported = {m.params.get("where") for m in found}
    # The metaschema reports a bad patternProperties key on the keyword itself.
    parents = {str(w).rsplit("/", 1)[0] for w in reported}
    reported |= {p for p in parents if p.endswith("/patternProperties")}
    found += [m for m in _draft_problems(body) if m.params.get("where") not in reported]
    if found:
        return found[:MAX_REPORTED]
    if body.get("type") != "object":
        return [msg("schema.type_object")]
    if kind == "payload":
        # The form posts its own fields beside the schema's: a property of the same name
        # would make every registration unreadable.
        properties = body.get("properties")
        taken = sorted(set(properties) & CONTROL_FIELDS) if isinstance(properties, Mapping) else []
        if taken:
            return [
                msg("schema.reserved_field", where=f"#/properties/{name}", name=name)
                for name in taken
            ]
        try:
            check_schema(body)
        except ValueError as error:
            return [msg("schema.payload", detail=str(error)[:_DETAIL_CAP])]
    return []


def _bounds_problem(body: Mapping[str, Any]) -> Msg | None:
    if _depth(body) > MAX_DEPTH:
        return msg("schema.too_deep", max=MAX_DEPTH)
    try:
        size = len(json.dumps(body, ensure_ascii=False, allow_nan=False).encode())
    except (TypeError, ValueError) as error:
        return msg("schema.invalid", where="#", detail=f"not JSON: {error}"[:_DETAIL_CAP])
    if size > MAX_SCHEMA_BYTES:
        return msg("schema.too_large", max=MAX_SCHEMA_BYTES)
    if _property_count(body) > MAX_PROPERTIES:
        return msg("schema.too_many_properties", max=MAX_PROPERTIES)
    return None


def _depth(body: object) -> int:
    # Iterative: a recursive walk would hit Python's own limit on a hostile document.
    deepest, stack = 0, [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((child, depth + 1) for child in node)
    return deepest


def _property_count(node: object) -> int:
    if isinstance(node, list):
        return sum(_property_count(item) for item in node)
    if not isinstance(node, Mapping):
        return 0
    total = 0
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            continue
        if key in ("properties", "patternProperties") and isinstance(value, Mapping):
            total += len(value)
        total += _property_count(value)
    return total


def _draft_problems(body: Mapping[str, Any]) -> Iterator[Msg]:
    if body.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        yield msg("schema.draft", draft=DRAFT_2020_12)
        return
    errors = sorted(META_VALIDATOR.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors[:MAX_REPORTED]:
        where = "#" + "".join(f"/{pointer_part(str(p))}" for p in error.absolute_path)
        yield msg("schema.invalid", where=where, detail=str(error.message)[:_DETAIL_CAP])


def _ref_problems(body: Mapping[str, Any]) -> Iterator[Msg]:
    # Only references into this document: a remote one would make validation fetch it
    # (jsonschema still falls back to urllib), or fail, at request time.
    resolved = True
    for where, ref in refs(body):
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            yield msg("schema.remote_ref", where=where)
            resolved = False
            continue
        try:
            ref_target(body, ref)
        except ValueError:
            yield msg("schema.dangling_ref", where=where)
            resolved = False
    cycle = _ref_cycle(body) if resolved else None
    if cycle is not None:
        yield msg("schema.ref_cycle", where=cycle)
    for where in _nested_ids(body, "#", top=True):
        yield msg("schema.nested_id", where=where)


# Keywords that apply their subschemas to the same value. A loop through these and "$ref"
# never reads deeper into the data, so validation would recurse until Python gives up.
_IN_PLACE_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_IN_PLACE_ONE = frozenset({"not", "if", "then", "else"})


def _in_place_refs(node: object) -> Iterator[str]:
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        if key in ("$ref", "$dynamicRef") and isinstance(value, str):
            yield value
        elif key in _IN_PLACE_LISTS and isinstance(value, list):
            for child in value:
                yield from _in_place_refs(child)
        elif key in _IN_PLACE_ONE:
            yield from _in_place_refs(value)
        elif key == "dependentSchemas" and isinstance(value, Mapping):
            for child in value.values():
                yield from _in_place_refs(child)


def _ref_cycle(body: Mapping[str, Any]) -> str | None:
    """A reference that leads back to itself without reading deeper into the data
    (``{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}}``), or None.

    Subschemas are told apart by identity, not by how a reference spells them, so
    ``#/allOf/1`` and ``#/allOf/01`` are one node."""
    # Depth-first, iterative; 1 = on the current path, 2 = explored without a loop.
    state: dict[int, int] = {}
    for start in ["#", *(str(ref) for _, ref in refs(body))]:
        node = ref_target(body, start)
        if id(node) in state:
            continue
        state[id(node)] = 1
        path = [(node, iter(list(_in_place_refs(node))))]
        while path:
            current, pending = path[-1]
            ref = next(pending, None)
            if ref is None:
                state[id(current)] = 2
                path.pop()
                continue
            target = ref_target(body, ref)
            seen = state.get(id(target))
            if seen == 1:
                return ref
            if seen is None:
                state[id(target)] = 1
                path.append((target, iter(list(_in_place_refs(target)))))
    return None


def _nested_ids(node: object, where: str, *, top: bool = False) -> Iterator[str]:
    """``$id`` below the root: it starts a new resource, and ``#/...`` inside it would
    resolve against that resource, not against the document we checked."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{where}/{pointer_part(str(key))}"
            if key in _IDENTITY_KEYWORDS and not top:
                yield here
            elif key not in _DATA_KEYWORDS:
                yield from _nested_ids(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _nested_ids(item, f"{where}/{index}")


def unrunnable_patterns(body: object) -> list[Msg]:
    """The problems of a *stored* schema's regular expressions: a schema stored before
    patterns ran with RE2 may hold one RE2 refuses (a look-ahead, a backreference). Such a
    pattern fails closed, every value of its field is refused, so the operator must be
    told which (``SchemaView.problems``, and a warning when the server starts)."""
    return list(_pattern_problems(body)) if isinstance(body, Mapping) else []


def _pattern_problems(body: Mapping[str, Any]) -> Iterator[Msg]:
    for where, pattern in patterns(body):
        problem = pattern_problem(pattern)
        if problem is None:
            continue
        detail = problem.detail[:_DETAIL_CAP]
        if problem.reason == "invalid":
            yield msg("schema.bad_pattern", where=where, detail=detail)
        elif problem.reason == "too_long":
            yield msg("schema.pattern_too_long", where=where, max=MAX_PATTERN_LENGTH)
        elif problem.reason == "too_complex":
            yield msg("schema.pattern_too_complex", where=where, max=MAX_PROGRAM_SIZE)
        else:
            yield msg("schema.unsupported_pattern", where=where, detail=detail)
    keyword = unevaluated_pattern_properties(body)
    if keyword is not None:
        yield msg("schema.unevaluated_pattern_properties", where=keyword)
