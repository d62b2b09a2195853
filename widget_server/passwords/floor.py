"""The tenant's password floor: the least any of its pools' policies may ask for.

A business customer's administrator may set its own pool's policy when the tenant lets
it (``pools.admins_may_set_policy``), but never below the floor: a setting below it is
refused, naming the field. The floor also holds when it is raised after a pool's policy
was set: the pool's effective policy takes, rule by rule, the stricter of the two
(``with_floor``), so no pool is ever weaker than its tenant wants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec

from widget_server.messages import Msg, msg
from widget_server.passwords.policy import HARD_CAP, MAX_HISTORY, PolicyConfig

_Count = Annotated[int, msgspec.Meta(ge=0, le=HARD_CAP)]

#: Rules where more is stricter, and the policy's default for each.
_AT_LEAST = ("min_length", "min_digits", "min_lowercase", "min_uppercase", "min_special", "history")
#: Checks that, once the floor asks for them, no pool may switch off.
_REQUIRED = ("common", "similarity")


class PasswordFloor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``None`` (or absent): the floor says nothing about that rule."""

    min_length: Annotated[int, msgspec.Meta(ge=1, le=HARD_CAP)] | None = None
    min_digits: _Count | None = None
    min_lowercase: _Count | None = None
    min_uppercase: _Count | None = None
    min_special: _Count | None = None
    history: Annotated[int, msgspec.Meta(ge=0, le=MAX_HISTORY)] | None = None
    common: bool | None = None
    similarity: bool | None = None


def floor_from_config(config: Mapping[str, Any] | None) -> PasswordFloor:
    """The stored floor (``tenants.password_floor``); ``ValueError`` says what is wrong."""
    try:
        return msgspec.convert(dict(config or {}), PasswordFloor, strict=True)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid password floor: {exc}") from None


def below_floor(policy: Mapping[str, Any], floor: PasswordFloor) -> dict[str, Msg]:
    """The rules of ``policy`` (a pool's stored settings, defaults filled in) that are
    weaker than ``floor``, by field, each with its message."""
    parsed = msgspec.convert(dict(policy), PolicyConfig, strict=True)
    found: dict[str, Msg] = {}
    for name in _AT_LEAST:
        least = getattr(floor, name)
        if least is not None and getattr(parsed, name) < least:
            found[name] = msg("policy.below_floor", field=name, min=least)
    for name in _REQUIRED:
        if getattr(floor, name) and not getattr(parsed, name):
            found[name] = msg("policy.floor_requires", field=name)
    return found


def with_floor(policy: Mapping[str, Any], floor: PasswordFloor) -> dict[str, Any]:
    """``policy`` raised to ``floor`` rule by rule (what the pool actually enforces)."""
    raised = dict(policy)
    defaults = PolicyConfig()
    for name in _AT_LEAST:
        least = getattr(floor, name)
        if least is not None:
            raised[name] = max(raised.get(name, getattr(defaults, name)), least)
    for name in _REQUIRED:
        if getattr(floor, name):
            raised[name] = True
    if raised.get("max_length", defaults.max_length) < raised.get("min_length", 0):
        raised["max_length"] = raised["min_length"]
    return raised
