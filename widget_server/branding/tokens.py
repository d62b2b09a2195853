"""A designer's token layer checked as a whole, with each problem named by its token.

The grammar lives in ``widget_server.themes``; this turns its ``ValueError`` into the
admin's ``InvalidInput`` keyed by the token's path (``colors.primary``), so the studio
can show the message beside the control that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from widget_server.errors import InvalidInput
from widget_server.messages import msg
from widget_server.themes import Theme, resolve_theme

#: Never part of a layer: a theme's id and name are the theme object's, not tokens.
_NOT_TOKENS = ("id", "name")
_OUR_PATH = re.compile(r"^(?:invalid theme \([^)]*\): )?([a-z_]+(?:\.[a-z0-9_]+)*): ")
_MSGSPEC_PATH = re.compile(r" - at `\$((?:\.[A-Za-z0-9_]+|\[[0-9]+\])*)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")


def token_field(exc: Exception) -> str:
    """The token path an error of ``resolve_theme`` is about (``tokens`` if unclear)."""
    text = str(exc)
    where = _MSGSPEC_PATH.search(text)
    path = where[1].lstrip(".") if where is not None else ""
    ours = _OUR_PATH.match(text)
    if ours is not None and ours[1] != "invalid":
        # Our grammar names the token from its group ("colors.text"); msgspec says where
        # that group sits ("dark.colors").
        token = ours[1]
        group = token.split(".", 1)[0]
        if path == group or path.endswith(f".{group}"):
            return path[: -len(group)] + token
        return token
    unknown = _UNKNOWN_FIELD.search(text)
    if unknown is not None:
        path = f"{path}.{unknown[1]}" if path else unknown[1]
    return path or "tokens"


def check_tokens(tokens: Any) -> Theme:
    """``tokens`` resolved over the built-in default, or ``InvalidInput`` by token."""
    if not isinstance(tokens, Mapping):
        raise InvalidInput({"tokens": [msg("admin.json_object")]})
    for key in _NOT_TOKENS:
        if key in tokens:
            raise InvalidInput({key: [msg("brand.invalid_token", detail=f"{key} is not a token")]})
    try:
        return resolve_theme(tokens)
    except (ValueError, TypeError) as exc:
        detail = _MSGSPEC_PATH.sub("", str(exc).removeprefix("invalid theme (resolved): "))[:300]
        raise InvalidInput(
            {token_field(exc): [msg("brand.invalid_token", detail=detail)]}
        ) from None


def layer_of(theme: Theme) -> dict[str, Any]:
    """A whole theme as a layer (what copying a built-in starts from)."""
    tokens: dict[str, Any] = msgspec.to_builtins(theme)
    for key in _NOT_TOKENS:
        tokens.pop(key, None)
    return tokens
