"""Reading a pool's JSON Schema (draft 2020-12) as a form: steps, field kinds, options.

Our UI hints are ``x-`` keywords, which JSON Schema ignores:

- schema level: ``x-steps: [{"id", "title", "description"}]`` (step order and titles);
- property level: ``x-step`` (step id), ``x-order`` (int), ``x-widget`` (one of
  ``WIDGETS``), ``x-identifier`` (bool), ``x-autocomplete``, ``x-placeholder``,
  ``x-inputmode``, ``x-default-region`` (ISO 3166 region for phone numbers),
  ``x-readonly`` (bool: users see the value in their account portal but never edit it;
  registration still asks for it), ``x-searchable`` (bool, string properties only:
  operators may search the field by part of its value, any case, in the portal and the
  admin API; on PostgreSQL a trigram index answers it).

Phone fields (``"format": "tel"`` or ``"x-widget": "tel"``) are read by
``widget_server.phones`` (E.164; the pool's ``phone_regions`` apply; a pool allowing
one region reads national numbers in it when the field has no ``x-default-region``).
The identifier (``x-identifier``) may be a tel field: the pool then registers by
phone. Where the activation code goes is not a schema keyword but the pool's
``activation_methods``, in order, over the email and tel fields the user filled
(``flows/registration.py``): a schema with an email identifier and a phone field
serves email-only, phone-first and either pools alike.

Nested objects and arrays are stored and validated but never drawn as form fields: a
step holds top-level scalar properties only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import msgspec
import phonenumbers
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from widget_server.forms.regexes import META_VALIDATOR, pattern_problem

Schema = Mapping[str, Any]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_STEP = "main"
WIDGETS = frozenset({"textarea", "radio", "tel", "hidden", "password"})
SCALAR_KINDS = frozenset({"string", "integer", "number", "boolean"})
# Values that are data, not schemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_MAX_REF_HOPS = 8


class Step(msgspec.Struct, frozen=True):
    id: str
    title: str
    description: str | None
    fields: tuple[str, ...]


class KeyedSchema(dict[str, Any]):
    """A schema that carries its cache key, computed once: a pool's schema is used on every
    request, and serialising it for the key cost more than the cached work it finds.
    Read-only, so the key cannot go stale."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        super().__init__(schema)
        self.key = json.dumps(self, separators=(",", ":"), ensure_ascii=False)

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("a KeyedSchema is read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _read_only  # type: ignore[assignment]


def schema_key(schema: Schema) -> str:
    """The cache key of everything derived from ``schema``.

    Keys are not sorted: declaration order is meaningful (it orders fields), so two schemas
    that differ only in order must not share derived results.
    """
    if isinstance(schema, KeyedSchema):
        return schema.key
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def steps_of(schema: Schema) -> tuple[Step, ...]:
    return steps_by_key(schema_key(schema))


@lru_cache(maxsize=256)
def steps_by_key(key: str) -> tuple[Step, ...]:
    return _compute_steps(json.loads(key))


def find_step(steps: tuple[Step, ...], step_id: str) -> Step:
    for step in steps:
        if step.id == step_id:
            return step
    raise ValueError(f"the schema has no step {step_id!r}")


def properties(schema: Schema) -> dict[str, Mapping[str, Any]]:
    """Top-level properties with local ``$ref``s followed, in declaration order."""
    if isinstance(schema, KeyedSchema):
        # A pool's schema: an import reads it for every cell of every line.
        return dict(_properties_by_key(schema.key))
    return _properties(schema)


@lru_cache(maxsize=256)
def _properties_by_key(key: str) -> dict[str, Mapping[str, Any]]:
    return _properties(json.loads(key))


def _properties(schema: Schema) -> dict[str, Mapping[str, Any]]:
    declared = schema.get("properties")
    if not isinstance(declared, Mapping):
        return {}
    return {
        name: _resolve(schema, prop) for name, prop in declared.items() if isinstance(prop, Mapping)
    }


def kind_of(prop: Mapping[str, Any]) -> str:
    """The JSON type a property holds; ``null`` in a type list only makes it optional."""
    declared = prop.get("type")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), None)
    if isinstance(declared, str):
        return declared
    if "const" in prop:
        return _json_type(prop["const"])
    samples = [v for v in prop.get("enum") or () if v is not None]
    return _json_type(samples[0]) if samples else "string"


def options_of(prop: Mapping[str, Any]) -> tuple[tuple[str, str], ...] | None:
    """(value, label) pairs from ``enum`` or from a ``oneOf``/``anyOf`` of titled consts."""
    enum = prop.get("enum")
    if isinstance(enum, list):
        return tuple((as_text(v), as_text(v)) for v in enum if v is not None)
    for keyword in ("oneOf", "anyOf"):
        branches = prop.get(keyword)
        if isinstance(branches, list) and branches and all(is_const(b) for b in branches):
            return tuple(
                (as_text(b["const"]), str(b.get("title") or as_text(b["const"])))
                for b in branches
                if b["const"] is not None
            )
    return None


def is_readonly(prop: Mapping[str, Any]) -> bool:
    """Marked ``"x-readonly": true``: shown to the user in the account portal, not editable."""
    return prop.get("x-readonly") is True


def searchable_fields(schema: Schema) -> tuple[str, ...]:
    """Properties marked ``"x-searchable": true``, in declaration order."""
    return tuple(name for name, prop in properties(schema).items() if is_searchable(prop))


def is_searchable(prop: Mapping[str, Any]) -> bool:
    return prop.get("x-searchable") is True


def is_phone(prop: Mapping[str, Any]) -> bool:
    return prop.get("format") == "tel" or prop.get("x-widget") == "tel"


def as_text(value: object) -> str:
    """A JSON value as a form control holds it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def required_names(schema: Schema) -> frozenset[str]:
    required = schema.get("required")
    if not isinstance(required, list):
        return frozenset()
    return frozenset(r for r in required if isinstance(r, str))


def identifier_field(schema: Schema) -> str:
    """The property users log in with: exactly one, marked ``"x-identifier": true``."""
    return _identifier_by_key(schema_key(schema))


@lru_cache(maxsize=256)
def _identifier_by_key(key: str) -> str:
    # Asked several times per request; the scan of the properties cost ~5 us each time.
    props = properties(json.loads(key))
    marked = [name for name, prop in props.items() if prop.get("x-identifier") is True]
    if len(marked) != 1:
        raise ValueError(
            f'the schema must mark exactly one property with "x-identifier": true, found {marked}'
        )
    prop = props[marked[0]]
    if kind_of(prop) != "string" or prop.get("format") not in ("email", "tel"):
        raise ValueError(
            f'the identifier {marked[0]!r} must be a string with format "email" or "tel"'
        )
    return marked[0]


def check_schema(schema: Schema) -> None:
    """Refuse a schema a pool cannot use; the ``ValueError`` says why, for the admin."""
    error = best_match(META_VALIDATOR.iter_errors(schema))
    if error is not None:
        where = "/".join(str(p) for p in error.path) or "(root)"
        raise ValueError(f"not a valid JSON Schema (draft 2020-12) at {where}: {error.message}")
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise ValueError(f'"$schema" must be {DRAFT_2020_12!r} (or left out)')
    if schema.get("type") != "object":
        raise ValueError('the schema must describe an object: "type": "object"')
    _check_refs(schema)
    _check_patterns(schema)
    name = identifier_field(schema)
    if name not in required_names(schema):
        raise ValueError(f'the identifier {name!r} must be listed in "required"')
    _check_hints(schema)


def _compute_steps(schema: Schema) -> tuple[Step, ...]:
    declared = _declared_steps(schema)
    form_props = {n: p for n, p in properties(schema).items() if kind_of(p) in SCALAR_KINDS}
    named = [p["x-step"] for p in form_props.values() if isinstance(p.get("x-step"), str)]
    first: str = declared[0][0] if declared else (named[0] if named else DEFAULT_STEP)
    groups: dict[str, list[tuple[int, int, str]]] = {}
    for index, (name, prop) in enumerate(form_props.items()):
        step = prop.get("x-step")
        order = prop.get("x-order")
        # Unordered fields count as 0, so a negative x-order moves a field to the top.
        sort_order = order if isinstance(order, int) and not isinstance(order, bool) else 0
        groups.setdefault(step if isinstance(step, str) else first, []).append(
            (sort_order, index, name)
        )
    steps = [Step(i, t, d, _ordered(groups.pop(i, []))) for i, t, d in declared]
    steps += [Step(i, i, None, _ordered(fields)) for i, fields in groups.items()]
    return tuple(steps)


def _declared_steps(schema: Schema) -> list[tuple[str, str, str | None]]:
    declared: list[tuple[str, str, str | None]] = []
    for entry in schema.get("x-steps") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        if all(entry["id"] != seen for seen, _, _ in declared):
            description = entry.get("description")
            declared.append(
                (
                    entry["id"],
                    str(entry.get("title") or entry["id"]),
                    description if isinstance(description, str) else None,
                )
            )
    return declared


def _ordered(fields: list[tuple[int, int, str]]) -> tuple[str, ...]:
    return tuple(name for _, _, name in sorted(fields))


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def is_const(branch: object) -> bool:
    return isinstance(branch, Mapping) and "const" in branch


def _resolve(schema: Schema, prop: Mapping[str, Any]) -> Mapping[str, Any]:
    """``prop`` with its local ``$ref`` chain merged in, the referring keywords winning."""
    for _ in range(_MAX_REF_HOPS):
        ref = prop.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#"):
            return prop
        target = _pointer(schema, ref)
        prop = {**target, **{k: v for k, v in prop.items() if k != "$ref"}}
    return prop


def _pointer(schema: Schema, ref: str) -> Mapping[str, Any]:
    node: Any = schema
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f'"$ref" {ref!r} points to nothing in this schema')
    if not isinstance(node, Mapping):
        raise ValueError(f'"$ref" {ref!r} does not point to a schema object')
    return node


def _refs(node: object, where: str = "#") -> Iterator[tuple[str, object]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef"):
                yield where, value
            elif key not in _DATA_KEYWORDS:
                yield from _refs(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _refs(item, f"{where}/{index}")


def _check_refs(schema: Schema) -> None:
    # Only local references: a remote one would make validation fetch, or fail, at request time.
    for where, ref in _refs(schema):
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            reason = f'"$ref" at {where} must point inside this schema ("#/..."): {ref!r}'
            raise ValueError(reason)
        _pointer(schema, ref)


def refs(schema: Schema) -> Iterator[tuple[str, object]]:
    """Every ``$ref`` and ``$dynamicRef`` value in ``schema``, with where it sits."""
    return _refs(schema)


def ref_target(schema: Schema, ref: str) -> Mapping[str, Any]:
    """What a local ``$ref`` points to; ``ValueError`` when it points to nothing."""
    return _pointer(schema, ref)


def patterns(node: object, where: str = "#") -> Iterator[tuple[str, str]]:
    """Every regular expression in a schema (``pattern`` values and ``patternProperties``
    keys) with its JSON pointer: validation runs each with RE2 (``regexes``) on user input."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            here = f"{where}/{pointer_part(str(key))}"
            if key in _DATA_KEYWORDS:
                continue
            if key == "pattern" and isinstance(value, str):
                yield here, value
                continue
            if key == "patternProperties" and isinstance(value, Mapping):
                yield from ((f"{here}/{pointer_part(str(k))}", str(k)) for k in value)
            yield from patterns(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from patterns(item, f"{where}/{index}")


def pointer_part(key: str) -> str:
    """``key`` escaped as one JSON Pointer segment (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def unevaluated_pattern_properties(node: object, where: str = "#") -> str | None:
    """Where the first ``patternProperties`` is, if the schema also uses
    ``unevaluatedProperties`` anywhere: jsonschema would run those patterns with Python
    ``re`` to evaluate it, so the pair is refused (None when the schema is fine)."""
    found = list(_keyword_places(node, "patternProperties", where))
    if found and next(_keyword_places(node, "unevaluatedProperties", where), None) is not None:
        return found[0]
    return None


def _keyword_places(node: object, keyword: str, where: str) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _DATA_KEYWORDS:
                continue
            here = f"{where}/{pointer_part(str(key))}"
            if key == keyword:
                yield here
            yield from _keyword_places(value, keyword, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _keyword_places(item, keyword, f"{where}/{index}")


def _check_patterns(schema: Schema) -> None:
    # Every pattern must compile with RE2, the linear-time engine validation runs them with.
    for where, pattern in patterns(schema):
        problem = pattern_problem(pattern)
        if problem is not None:
            reason = problem.reason.replace("_", " ")
            raise ValueError(f"the pattern at {where} is refused ({reason}: {problem.detail})")
    keyword = unevaluated_pattern_properties(schema)
    if keyword is not None:
        raise ValueError(f'"unevaluatedProperties" cannot be used with the patterns at {keyword}')


def _check_hints(schema: Schema) -> None:
    steps = schema.get("x-steps", [])
    ids = [s.get("id") for s in steps if isinstance(s, Mapping)] if isinstance(steps, list) else []
    well_formed = isinstance(steps, list) and len(ids) == len(steps)
    if not well_formed or not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise ValueError('"x-steps" must be a list of objects with unique string "id"s')
    for name, prop in properties(schema).items():
        _check_property_hints(name, prop)


def _check_property_hints(name: str, prop: Mapping[str, Any]) -> None:
    order = prop.get("x-order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        raise ValueError(f'"x-order" of {name!r} must be an integer')
    if not isinstance(prop.get("x-step", ""), str):
        raise ValueError(f'"x-step" of {name!r} must be a step id (a string)')
    if prop.get("x-widget", "textarea") not in WIDGETS:
        raise ValueError(f'"x-widget" of {name!r} must be one of {sorted(WIDGETS)}')
    if not isinstance(prop.get("x-readonly", False), bool):
        raise ValueError(f'"x-readonly" of {name!r} must be true or false')
    searchable = prop.get("x-searchable", False)
    if not isinstance(searchable, bool):
        raise ValueError(f'"x-searchable" of {name!r} must be true or false')
    if searchable and kind_of(prop) != "string":
        raise ValueError(f'"x-searchable" of {name!r}: only string properties can be searched')
    region = prop.get("x-default-region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f'"x-default-region" of {name!r} is not a known region: {region!r}')
