"""The user detail page's edit form, drawn from the pool's schemas.

Payload fields are the widget's form nodes (``forms.nodes_for_step``) for every step,
the sign-in identifier aside (it is not changed here), read back with ``forms.read_step``
as the widget reads them. Metadata fields are drawn from the pool's metadata schema the
same way, named ``metadata.<field>`` so they cannot collide with payload fields; its
arrays of strings (roles, groups) are text areas, one value a line. What the form does
not draw (nested objects, fields outside the schema) is kept as it is. The whole result
is then validated by ``admin.users.update_user``, as the API does; raw JSON stays
available as the "advanced" editor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from widget_server.errors import InvalidInput
from widget_server.forms import FormNode, identifier_field, nodes_for_step, read_step, steps_of
from widget_server.forms.schema import Schema, kind_of, properties
from widget_server.messages import Msg
from widget_server.pools import PoolView

META = "metadata."


class ListField(msgspec.Struct, frozen=True, kw_only=True):
    """A metadata array of strings, edited one value a line."""

    name: str
    label: str
    value: str
    messages: tuple[Msg, ...] = ()


def payload_nodes(
    pool: PoolView, values: Mapping[str, object], errors: Mapping[str, Sequence[Msg]]
) -> list[FormNode]:
    identifier = identifier_field(pool.schema)
    return [
        node
        for step in steps_of(pool.schema)
        for node in nodes_for_step(pool.schema, step.id, values, errors)
        if node.name != identifier and node.type not in {"hidden", "submit"}
    ]


def metadata_nodes(
    pool: PoolView, values: Mapping[str, object], errors: Mapping[str, Sequence[Msg]]
) -> list[FormNode]:
    schema = pool.metadata_schema
    if schema is None:
        return []
    return [
        msgspec.structs.replace(node, name=META + node.name)
        for step in steps_of(schema)
        for node in nodes_for_step(schema, step.id, values, _unprefixed(errors))
        if node.type not in {"hidden", "submit"}
    ]


def list_fields(
    pool: PoolView, values: Mapping[str, object], errors: Mapping[str, Sequence[Msg]]
) -> list[ListField]:
    schema = pool.metadata_schema
    if schema is None:
        return []
    out = []
    for name in _string_arrays(schema):
        value = values.get(name)
        text = "\n".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
        title = str(properties(schema)[name].get("title") or name)
        messages = tuple(errors.get(META + name, ()))
        out.append(ListField(name=META + name, label=title, value=text, messages=messages))
    return out


def _string_arrays(schema: Schema) -> list[str]:
    return [
        name
        for name, prop in properties(schema).items()
        if kind_of(prop) == "array"
        and isinstance(prop.get("items"), Mapping)
        and kind_of(prop["items"]) == "string"
    ]


def _unprefixed(errors: Mapping[str, Sequence[Msg]]) -> dict[str, Sequence[Msg]]:
    return {k.removeprefix(META): v for k, v in errors.items() if k.startswith(META)}


def read_edit(
    pool: PoolView,
    payload: Mapping[str, Any],
    metadata: Mapping[str, Any],
    form: Mapping[str, Sequence[str]],
    address: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The payload and metadata the form asks for: drawn fields as posted (an emptied
    optional field is removed), every other key as it was. All failures at once."""
    errors: dict[str, list[Msg]] = {}
    new_payload = dict(payload)
    identifier = identifier_field(pool.schema)
    for step in steps_of(pool.schema):
        drawn = [f for f in step.fields if f != identifier]
        sent = {f: form[f] for f in drawn if f in form}
        if identifier in step.fields:
            # Not edited here: the sign-in address stands in, so the step reads whole.
            sent[identifier] = [address]
        read = _read(pool.schema, step.id, sent, errors, "", pool)
        _apply(new_payload, drawn, read)
    new_metadata = dict(metadata)
    if pool.metadata_schema is not None:
        new_metadata = _read_metadata(pool, pool.metadata_schema, new_metadata, form, errors)
    errors.pop(identifier, None)
    if errors:
        raise InvalidInput(errors)
    return new_payload, new_metadata


def _read_metadata(
    pool: PoolView,
    schema: Schema,
    metadata: dict[str, Any],
    form: Mapping[str, Sequence[str]],
    errors: dict[str, list[Msg]],
) -> dict[str, Any]:
    for step in steps_of(schema):
        sent = {f: form[META + f] for f in step.fields if META + f in form}
        _apply(metadata, step.fields, _read(schema, step.id, sent, errors, META, pool))
    for name in _string_arrays(schema):
        if META + name not in form:
            continue
        lines = [line.strip() for line in (form[META + name] or [""])[0].splitlines()]
        values = [line for line in lines if line]
        if values:
            metadata[name] = values
        else:
            metadata.pop(name, None)
    return metadata


def _read(
    schema: Schema,
    step_id: str,
    sent: Mapping[str, Sequence[str]],
    errors: dict[str, list[Msg]],
    prefix: str,
    pool: PoolView,
) -> dict[str, object] | None:
    try:
        return read_step(schema, step_id, sent, phone_regions=pool.phone_regions)
    except InvalidInput as exc:
        for name, messages in exc.messages.items():
            errors.setdefault(prefix + name if name else name, []).extend(messages)
        return None


def _apply(
    document: dict[str, Any], drawn: Sequence[str], read: Mapping[str, object] | None
) -> None:
    if read is None:
        return
    for name in drawn:
        if name in read:
            document[name] = read[name]
        else:
            document.pop(name, None)
