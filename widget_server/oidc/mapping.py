"""Which of a user's fields feeds which standard OpenID Connect claim, per pool.

A pool's ``claim_mapping`` maps a standard claim (OIDC Core §5.1, the ``profile`` scope)
to ``payload.<field>`` or ``metadata.<field>``::

    {"given_name": "payload.given_name", "family_name": "payload.family_name",
     "birthdate": "payload.date_of_birth"}

It is checked against the pool's schemas whenever either changes (``mapping_problems``):
the claim must be one we issue, the field must exist and hold text. A pool without a
stored mapping gets the one ``inferred_mapping`` reads from its schema by field name
(``given_name``/``first_name`` → ``given_name``, …; the banking and employee schemas'
``given_name`` used to be missed, since only ``first_name`` was read); templates carry
theirs explicitly. ``name`` is the given and family names
joined when the mapping does not name a field for it.

Only strings are released, cut at ``MAX_CLAIM`` characters: a payload cannot smuggle a
structure or a megabyte into a token.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from widget_server.forms.schema import properties
from widget_server.messages import Msg, msg
from widget_server.oidc.scopes import CLAIMS

#: The ``profile`` claims a pool may map (OIDC Core §5.1), plus ``name``: the scope's.
PROFILE_CLAIMS = frozenset(CLAIMS["profile"])
MAX_CLAIM = 500
MAX_ENTRIES = len(PROFILE_CLAIMS)
_SOURCE = re.compile(r"(payload|metadata)\.([A-Za-z0-9_-]{1,64})")

#: Field names read as a claim when a pool stores no mapping.
_CONVENTIONAL = {
    "given_name": ("given_name", "first_name"),
    "family_name": ("family_name", "last_name"),
    "middle_name": ("middle_name",),
    "nickname": ("nickname", "display_name"),
    "birthdate": ("birthdate", "date_of_birth"),
    "locale": ("locale",),
}


#: What the profile claims read before mappings existed, kept for a schema that names
#: neither field (a free-form or older schema whose users still carry these fields).
_LEGACY = {"given_name": "payload.first_name", "family_name": "payload.last_name"}


def inferred_mapping(schema: Mapping[str, Any]) -> dict[str, str]:
    """The mapping of a pool that stores none: its text fields with conventional names;
    for the two names, ``first_name``/``last_name`` when the schema has neither."""
    props = properties(schema)
    found: dict[str, str] = {}
    for claim, names in _CONVENTIONAL.items():
        for name in names:
            if _is_text(props.get(name)):
                found[claim] = f"payload.{name}"
                break
    return _LEGACY | found


def mapping_problems(
    mapping: Mapping[str, object],
    payload_schema: Mapping[str, Any],
    metadata_schema: Mapping[str, Any] | None,
    field: str = "claim_mapping",
) -> dict[str, list[Msg]]:
    """What is wrong with ``mapping`` for these schemas, by ``claim_mapping.<claim>``."""
    problems: dict[str, list[Msg]] = {}
    if len(mapping) > MAX_ENTRIES:
        return {field: [msg("claims.too_many", max=MAX_ENTRIES)]}
    for claim, source in mapping.items():
        where = f"{field}.{str(claim)[:40]}"
        if claim not in PROFILE_CLAIMS:
            problems[where] = [msg("claims.unknown_claim", claim=str(claim)[:40])]
            continue
        match = _SOURCE.fullmatch(source) if isinstance(source, str) else None
        if match is None:
            problems[where] = [msg("claims.bad_source")]
            continue
        kind, name = match.groups()
        schema = payload_schema if kind == "payload" else metadata_schema
        prop = properties(schema or {}).get(name)
        if prop is None:
            problems[where] = [msg("claims.unknown_field", field=f"{kind}.{name}")]
        elif not _is_text(prop):
            problems[where] = [msg("claims.not_text", field=f"{kind}.{name}")]
    return problems


def mapped_claims(
    mapping: Mapping[str, str], payload: Mapping[str, Any], metadata: Mapping[str, Any]
) -> dict[str, str]:
    """The profile claims of one user under ``mapping``: text values only."""
    documents = {"payload": payload, "metadata": metadata}
    claims: dict[str, str] = {}
    for claim, source in mapping.items():
        kind, _, name = source.partition(".")
        value = documents.get(kind, {}).get(name)
        if isinstance(value, str) and value.strip():
            claims[claim] = value.strip()[:MAX_CLAIM]
    if "name" not in claims:
        joined = " ".join(v for v in (claims.get("given_name"), claims.get("family_name")) if v)
        if joined:
            claims["name"] = joined
    return claims


def _is_text(prop: object) -> bool:
    if not isinstance(prop, Mapping):
        return False
    kind = prop.get("type", "string")
    return kind == "string" or (isinstance(kind, list) and "string" in kind)
