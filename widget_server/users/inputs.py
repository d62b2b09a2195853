"""What an admin may send about a user, and the checks it must pass before anything is
stored: the pool's payload schema (the identifier is the email), its metadata schema,
its email domains, a size bound. Every failure is collected, keyed by JSON path
(``email``, ``payload.first_name``, ``metadata.roles``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from widget_server.canonical import IdentifierRefused, email_address
from widget_server.errors import InvalidInput
from widget_server.forms import identifier_field, validate_payload
from widget_server.forms.schema import is_phone, properties
from widget_server.messages import Msg, msg
from widget_server.phones import PhoneRefused, default_region_for, normalise_phone
from widget_server.pools import PoolView

#: Serialised size bound of a payload or metadata document (JSON bytes).
MAX_DOCUMENT_BYTES = 16 * 1024

Email = Annotated[str, msgspec.Meta(min_length=1, max_length=320)]
Phone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# Bounded by the request body; the policy refuses anything over its hard cap with a message.
Password = Annotated[str, msgspec.Meta(max_length=64 * 1024)]


class NewUser(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A user created by an admin.

    ``active``: the address counts as verified; give ``password`` or set
    ``send_set_password_link`` (exactly one). ``new``: an invitation with an activation
    code goes out; after the code the user chooses a password unless one was given here.
    """

    #: The identifier of an email pool (its identifier field has format email).
    email: Email | None = None
    #: The identifier of a phone pool (format tel), in any format phonenumbers reads.
    phone: Phone | None = None
    status: Literal["new", "active"] = "new"
    payload: dict[str, Any] = msgspec.field(default_factory=dict)
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    password: Password | None = None
    send_set_password_link: bool = False

    def __repr__(self) -> str:
        # Never let a password reach a log line or a traceback.
        hidden = "***" if self.password else None
        return f"NewUser(email=..., status={self.status!r}, password={hidden})"


class UserPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A JSON merge patch of payload and metadata: given keys replace, ``null`` removes."""

    payload: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


def normalise_email(pool: PoolView, raw: str) -> str:
    """The address as stored (lower case), after format and domain checks."""
    try:
        email = email_address(raw)
    except IdentifierRefused as refused:
        raise InvalidInput({"email": [refused.message]}) from None
    domain = email.rpartition("@")[2].lower()
    if pool.email_domains and domain not in pool.email_domains:
        domains = ", ".join(f"@{d}" for d in pool.email_domains)
        raise InvalidInput({"email": [msg("admin.email_domain", domains=domains)]})
    return email


def identifier_of(pool: PoolView, new: NewUser) -> tuple[Literal["email", "phone"], str]:
    """``(kind, value)`` of the new user's identifier: the pool's own identifier decides
    which of ``email`` and ``phone`` is required (and the other refused)."""
    prop = properties(pool.schema)[identifier_field(pool.schema)]
    if is_phone(prop):
        if new.email is not None or new.phone is None:
            wrong = "email" if new.email is not None else "phone"
            raise InvalidInput({wrong: [msg("admin.identifier_is_phone")]})
        region = default_region_for(prop.get("x-default-region"), pool.phone_regions)
        try:
            return "phone", normalise_phone(
                new.phone, default_region=region, regions=pool.phone_regions
            )
        except PhoneRefused as refused:
            raise InvalidInput({"phone": [refused.message]}) from None
    if new.phone is not None or new.email is None:
        wrong = "phone" if new.phone is not None else "email"
        raise InvalidInput({wrong: [msg("admin.identifier_is_email")]})
    return "email", normalise_email(pool, new.email)


def new_payload(pool: PoolView, email: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``email``: the identifier's value (an address, or an E.164 number)."""
    identifier = identifier_field(pool.schema)
    errors = _unknown(pool.schema, payload, "payload")
    if identifier in payload:
        errors[f"payload.{identifier}"] = [msg("admin.identifier_in_payload")]
    _bounded(payload, "payload", errors)
    if errors:
        raise InvalidInput(errors)
    document = _phones(pool.schema, {identifier: email, **payload}, pool.phone_regions)
    _check(pool.schema, document, "payload", identifier)
    return document


def patched_payload(
    pool: PoolView, current: Mapping[str, Any], patch: Mapping[str, Any]
) -> dict[str, Any]:
    identifier = identifier_field(pool.schema)
    errors = _unknown(pool.schema, patch, "payload")
    if identifier in patch and patch[identifier] != current.get(identifier):
        errors[f"payload.{identifier}"] = [msg("admin.identifier_readonly")]
    document = merge(current, patch)
    _bounded(document, "payload", errors)
    if errors:
        raise InvalidInput(errors)
    document = _phones(pool.schema, document, pool.phone_regions)
    _check(pool.schema, document, "payload", None)
    return document


def checked_metadata(pool: PoolView, document: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata as stored: valid against the pool's metadata schema when it has one."""
    errors: dict[str, list[Msg]] = {}
    if pool.metadata_schema is not None:
        errors = _unknown(pool.metadata_schema, document, "metadata")
    _bounded(document, "metadata", errors)
    if errors:
        raise InvalidInput(errors)
    if pool.metadata_schema is not None:
        _check(pool.metadata_schema, document, "metadata", None)
    return dict(document)


def merge(current: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7386 at the top level: a ``null`` removes the key."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _phones(
    schema: Mapping[str, Any], document: dict[str, Any], regions: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Phone numbers in E.164, as the widget stores them, so a user an admin made looks
    like one who registered (JSON Schema's ``tel`` format checks nothing); the same
    policy as the widget's (``widget_server.phones``), with the pool's regions."""
    errors: dict[str, list[Msg]] = {}
    for name, prop in properties(schema).items():
        value = document.get(name)
        if not (is_phone(prop) and isinstance(value, str)):
            continue
        region = default_region_for(prop.get("x-default-region"), regions)
        try:
            document[name] = normalise_phone(value, default_region=region, regions=regions)
        except PhoneRefused as refused:
            errors[f"payload.{name}"] = [refused.message]
    if errors:
        raise InvalidInput(errors)
    return document


def _unknown(
    schema: Mapping[str, Any], document: Mapping[str, Any], prefix: str
) -> dict[str, list[Msg]]:
    known = properties(schema)
    if not known and schema.get("additionalProperties", True) is not False:
        return {}  # a schema without properties describes free-form documents
    return {
        f"{prefix}.{key[:100]}": [msg("form.unknown_field", field=key[:100])]
        for key in document
        if key not in known
    }


def _bounded(document: Mapping[str, Any], prefix: str, errors: dict[str, list[Msg]]) -> None:
    size = len(msgspec.json.encode(document))
    if size > MAX_DOCUMENT_BYTES:
        errors[prefix] = [msg("admin.too_large", max=MAX_DOCUMENT_BYTES)]


def _check(
    schema: Mapping[str, Any], document: Mapping[str, Any], prefix: str, identifier: str | None
) -> None:
    problems = validate_payload(schema, document)
    if problems:
        raise InvalidInput(
            {
                ("email" if key == identifier else f"{prefix}.{key}" if key else prefix): found
                for key, found in problems.items()
            }
        )
