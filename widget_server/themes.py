"""Themes: design tokens as data, validated strictly, rendered as CSS custom properties.

A theme is data, never code. Every token is checked against a narrow grammar when a
``Theme`` is built (from a file, the database or a designer's edit), so nothing that
reaches ``css_variables`` can close the ``<style>`` element, start a new rule, load a
URL or run script. The logo URL never goes into CSS at all: templates render it as an
``<img src>``, where autoescaping applies.

Resolution, most specific last::

    built-in "default" -> tenant -> workspace -> pool

Each layer is a partial token mapping (``{"colors": {"primary": "#0a7"}}``) or a whole
``Theme``; nested groups (``colors``, ``font``, ``logo``, ``copy``) merge key by key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from widget_server.assets import asset_dir

DEFAULT_THEME_ID = "default"

# ASCII-only grammars: ``\d`` and ``\s`` would also accept Unicode digits and newlines.
_HEX = r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})"
_NUM = r"[0-9]{1,3}(?:\.[0-9]{1,4})?"
_ALPHA = rf"(?:{_NUM}%?|\.[0-9]{{1,4}})"
_SEP = r"[ ]*,[ ]*"
_RGB = (
    rf"rgba?\([ ]*{_NUM}%?{_SEP}{_NUM}%?{_SEP}{_NUM}%?(?:{_SEP}{_ALPHA})?[ ]*\)"
    rf"|rgba?\([ ]*{_NUM}%?[ ]+{_NUM}%?[ ]+{_NUM}%?(?:[ ]*/[ ]*{_ALPHA})?[ ]*\)"
)
_HSL = (
    rf"hsla?\([ ]*{_NUM}(?:deg)?{_SEP}{_NUM}%{_SEP}{_NUM}%(?:{_SEP}{_ALPHA})?[ ]*\)"
    rf"|hsla?\([ ]*{_NUM}(?:deg)?[ ]+{_NUM}%[ ]+{_NUM}%(?:[ ]*/[ ]*{_ALPHA})?[ ]*\)"
)
_COLOR_RE = re.compile(rf"{_HEX}|{_RGB}|{_HSL}")
_LENGTH_RE = re.compile(r"([0-9]{1,4}(?:\.[0-9]{1,4})?)(px|rem|em)")
# A family list: quoted names or bare identifiers, comma separated. Quotes must pair up,
# otherwise an open CSS string would swallow the declarations after it.
_FAMILY = r"""(?:"[A-Za-z0-9 -]{1,60}"|'[A-Za-z0-9 -]{1,60}'|-?[A-Za-z][A-Za-z0-9 -]{0,59})"""
_FONT_FAMILY_RE = re.compile(rf"[ ]*{_FAMILY}(?:[ ]*,[ ]*{_FAMILY}){{0,15}}[ ]*")
_SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_MESSAGE_ID_RE = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")
# Conservative URL alphabet: no quotes, parentheses, spaces, backslashes or angle brackets.
_URL_RE = re.compile(
    r"(?:https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?|/static)/[A-Za-z0-9._~/%+=&?#@!$,;:-]*"
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# Bounds in px (rem/em are counted as 16px): wide enough for any real design, narrow
# enough that a typo cannot make the widget unusable.
_LENGTH_BOUNDS: dict[str, tuple[float, float]] = {
    "font.size": (11.0, 24.0),
    "radius": (0.0, 32.0),
    "spacing": (4.0, 48.0),
}


def _check_color(token: str, value: str) -> None:
    if not _COLOR_RE.fullmatch(value):
        raise ValueError(
            f"{token}: {value!r} is not a colour (use #rgb, #rrggbb, #rrggbbaa, rgb(), hsl())"
        )


def _check_length(token: str, value: str) -> None:
    match = _LENGTH_RE.fullmatch(value)
    if match is None:
        raise ValueError(f"{token}: {value!r} is not a length (use e.g. 16px, 1rem)")
    number, unit = float(match[1]), match[2]
    px = number if unit == "px" else number * 16
    low, high = _LENGTH_BOUNDS[token]
    if not low <= px <= high:
        raise ValueError(f"{token}: {value!r} is outside {low:g}px..{high:g}px")


def _check_text(token: str, value: str, max_len: int) -> None:
    # Plain text is escaped by templates; this only keeps it printable and bounded.
    if len(value) > max_len or _CONTROL_RE.search(value):
        raise ValueError(f"{token}: must be at most {max_len} printable characters")


class Colors(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    primary: str
    primary_contrast: str
    background: str
    surface: str
    text: str
    muted: str
    border: str
    error: str
    success: str
    focus: str

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            _check_color(f"colors.{name}", getattr(self, name))


class Font(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    family: str
    size: str

    def __post_init__(self) -> None:
        if len(self.family) > 400 or not _FONT_FAMILY_RE.fullmatch(self.family):
            raise ValueError(
                f"font.family: {self.family!r} is not a font list "
                "(names of letters, digits, spaces and hyphens, optionally quoted)"
            )
        _check_length("font.size", self.size)


class Logo(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str
    # Rendered only as <img src>; never interpolated into CSS.
    url: str | None = None

    def __post_init__(self) -> None:
        _check_text("logo.text", self.text, 60)
        if self.url is None:
            return
        path = self.url.split("?", 1)[0].split("#", 1)[0]
        if len(self.url) > 2048 or not _URL_RE.fullmatch(self.url) or ".." in path.split("/"):
            raise ValueError(f"logo.url: {self.url!r} must be an https:// URL or a /static/ path")


class Theme(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    colors: Colors
    font: Font
    radius: str
    spacing: str
    logo: Logo
    # Re-wording of user-visible text by message id (see widget_server.messages).
    copy: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SLUG_RE.fullmatch(self.id):
            raise ValueError(f"id: {self.id!r} must be a slug (a-z, 0-9, -)")
        _check_text("name", self.name, 100)
        _check_length("radius", self.radius)
        _check_length("spacing", self.spacing)
        for message_id, text in self.copy.items():
            if not _MESSAGE_ID_RE.fullmatch(message_id) or len(message_id) > 100:
                raise ValueError(f"copy: {message_id!r} is not a message id")
            _check_text(f"copy.{message_id}", text, 500)


def _decode(data: Any, source: str) -> Theme:
    try:
        return msgspec.convert(data, Theme)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid theme ({source}): {exc}") from exc


@functools.cache
def _builtin_themes() -> tuple[Theme, ...]:
    themes = []
    for path in sorted(asset_dir("themes").glob("*.json")):
        try:
            data = msgspec.json.decode(path.read_bytes())
        except msgspec.DecodeError as exc:
            raise ValueError(f"invalid theme ({path.name}): {exc}") from exc
        theme = _decode(data, path.name)
        if theme.id != path.stem:
            raise ValueError(f"invalid theme ({path.name}): id {theme.id!r} != file name")
        themes.append(theme)
    return tuple(themes)


def load_builtin_themes() -> dict[str, Theme]:
    """The read-only themes shipped in ``themes/*.json``, by id (files are read once)."""
    return {theme.id: theme for theme in _builtin_themes()}


_GROUPS = frozenset({"colors", "font", "logo", "copy"})


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in layer.items():
        if key in _GROUPS and isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def resolve_theme(*layers: Mapping[str, Any] | Theme | None) -> Theme:
    """Merge token layers over the built-in default theme, most specific last.

    ``resolve_theme(tenant_tokens, workspace_tokens, pool_tokens)``; ``None`` layers
    are skipped. Raises ``ValueError`` naming the offending token if the result is
    invalid or a layer holds an unknown token.
    """
    merged: dict[str, Any] = msgspec.to_builtins(load_builtin_themes()[DEFAULT_THEME_ID])
    for layer in layers:
        if layer is None:
            continue
        tokens = msgspec.to_builtins(layer) if isinstance(layer, Theme) else layer
        merged = _merge(merged, tokens)
    return _decode(merged, "resolved")


def css_variables(theme: Theme) -> str:
    """``:root{--ws-color-primary:...;...}`` for a ``<style>`` element.

    Safe to inline because every value passed the grammars above when ``theme`` was
    built; the logo URL is deliberately not emitted.
    """
    colors = theme.colors
    pairs = [
        (f"--ws-color-{name.replace('_', '-')}", getattr(colors, name))
        for name in colors.__struct_fields__
    ]
    pairs += [
        ("--ws-font-family", theme.font.family.strip()),
        ("--ws-font-size", theme.font.size),
        ("--ws-radius", theme.radius),
        ("--ws-spacing", theme.spacing),
    ]
    return ":root{" + ";".join(f"{name}:{value}" for name, value in pairs) + "}"
