"""The user-editable part of a pool's payload schema.

A user edits every top-level scalar property of the payload schema except: the sign-in
identifier (changed through addresses, not here), properties marked ``"x-readonly": true``
(shown, not editable), ``const`` properties (accepted terms cannot be un-accepted), hidden
and password fields. Metadata is never touched: only the ``payload`` column is written.

The editable fields are read and validated by the same machinery as registration: they
become one step (``profile``) of a derived schema, so ``read_step`` types and normalises
them, and the merged payload is then checked against the pool's whole schema with
``validate_payload``. Nested objects and arrays in the payload are kept as they are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import msgspec
from sqlalchemy import select, update

from widget_server.errors import InvalidInput, NotSignedIn
from widget_server.forms import KeyedSchema, identifier_field, read_step, steps_of, validate_payload
from widget_server.forms.schema import (
    SCALAR_KINDS,
    is_const,
    is_readonly,
    kind_of,
    properties,
    required_names,
    schema_key,
)
from widget_server.messages import Msg, msg
from widget_server.models import User
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.webhooks import emit

log = logging.getLogger(__name__)

STEP = "profile"


class ProfileFields(msgspec.Struct, frozen=True, kw_only=True):
    #: In the order registration asks for them (steps, then ``x-order``).
    editable: tuple[str, ...]
    shown: tuple[str, ...]
    #: The editable fields as a one-step schema (``STEP``), for reading and for nodes.
    schema: KeyedSchema


def profile_fields(schema: Mapping[str, Any]) -> ProfileFields:
    return _fields(schema_key(schema))


@lru_cache(maxsize=256)
def _fields(key: str) -> ProfileFields:
    schema = json.loads(key)
    props = properties(schema)
    identifier = identifier_field(schema)
    ordered = [name for step in steps_of(schema) for name in step.fields]
    editable, shown = [], []
    for name in ordered:
        prop = props[name]
        if name == identifier or is_readonly(prop) or _never_edited(name, prop):
            if name == identifier or is_readonly(prop):
                shown.append(name)
            continue
        editable.append(name)
    return ProfileFields(
        editable=tuple(editable), shown=tuple(shown), schema=_step_schema(schema, editable)
    )


def _never_edited(name: str, prop: Mapping[str, Any]) -> bool:
    hidden = prop.get("x-widget") in ("hidden", "password") or "password" in name.lower()
    return hidden or is_const(prop) or kind_of(prop) not in SCALAR_KINDS


def _step_schema(schema: Mapping[str, Any], editable: list[str]) -> KeyedSchema:
    props = properties(schema)
    required = required_names(schema)
    derived: dict[str, Any] = {
        k: schema[k] for k in ("$schema", "$defs", "definitions") if k in schema
    }
    derived |= {
        "type": "object",
        "x-steps": [{"id": STEP, "title": "Profile"}],
        "properties": {
            name: {**props[name], "x-step": STEP, "x-order": index}
            for index, name in enumerate(editable)
        },
        "required": [name for name in editable if name in required],
    }
    return KeyedSchema(derived)


async def load_payload(services: Services, user_id: str) -> dict[str, Any]:
    async with services.db.read() as session:
        payload = await session.scalar(
            select(User.payload).where(User.id == user_id, User.status == "active")
        )
    if payload is None:
        raise NotSignedIn()
    return dict(payload)


async def update_profile(
    services: Services, pool: PoolView, user_id: str, form: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Store the submitted editable fields; ``InvalidInput`` by field, nothing stored."""
    fields = profile_fields(pool.schema)
    errors = _refused_fields(pool, fields, form)
    submitted = {k: v for k, v in form.items() if k in fields.editable}
    values: dict[str, object] = {}
    try:
        values = read_step(fields.schema, STEP, submitted) if fields.editable else {}
    except InvalidInput as exc:
        errors.update({k: list(v) for k, v in exc.messages.items()})
    if errors:
        raise InvalidInput(errors)
    current = await load_payload(services, user_id)
    merged = {k: v for k, v in current.items() if k not in fields.editable} | values
    problems = validate_payload(pool.schema, merged)
    if problems:
        # A stored, read-only value the schema no longer accepts is not the user's to fix:
        # say so above the form rather than under a field they cannot change.
        raise InvalidInput(_by_editable(problems, fields))
    now = services.clock.now()
    changed = [
        f"payload.{k}" for k in merged.keys() | current.keys() if merged.get(k) != current.get(k)
    ]
    async with services.db.write() as session:
        stored = await session.execute(
            update(User)
            .where(User.id == user_id, User.status == "active")
            .values(payload=merged, updated_at=now)
        )
        if changed and stored.rowcount == 1:  # type: ignore[attr-defined]
            await emit.user_updated(session, pool, user_id, now, source="account", changes=changed)
    log.info("account: user %s edited their profile (%s)", user_id, ", ".join(sorted(values)))
    return merged


def _refused_fields(
    pool: PoolView, fields: ProfileFields, form: Mapping[str, Sequence[str]]
) -> dict[str, list[Msg]]:
    known = properties(pool.schema)
    errors: dict[str, list[Msg]] = {}
    for name in form:
        if name in fields.editable:
            continue
        if name in known:
            errors[name] = [msg("account.field_readonly", field=name[:100])]
        else:
            errors[name] = [msg("form.unknown_field", field=name[:100])]
    return errors


def _by_editable(problems: dict[str, list[Msg]], fields: ProfileFields) -> dict[str, list[Msg]]:
    kept: dict[str, list[Msg]] = {}
    for name, messages in problems.items():
        kept.setdefault(name if name in fields.editable else "", []).extend(messages)
    return kept
