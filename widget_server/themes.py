"""Themes: design tokens as data, validated strictly, rendered as CSS custom properties.

A theme is data, never code. Every token is checked against a narrow grammar when a
``Theme`` is built (from a file, the database or a designer's edit), so nothing that
reaches ``theme_stylesheet`` can close the ``<style>`` element, start a new rule, load a
URL of anyone else or run script. Images and fonts are named only by the SHA-256 of an
asset uploaded to this server (``branding/assets.py``); the stylesheet turns such a hash
into a path on our own origin, so no token can make a page fetch from a third party. The
logo is rendered by templates as an ``<img src>``, where autoescaping applies.

Resolution, most specific last::

    built-in "default" -> tenant -> workspace -> pool -> app

Each layer is a partial token mapping (``{"colors": {"primary": "#0a7"}}``) or a whole
``Theme``; nested groups (``colors``, ``font``, ``logo``, ``button``, ``page``, ``dark``,
``copy``) merge key by key.
"""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from widget_server.assets import asset_dir
from widget_server.messages import CATALOG

DEFAULT_THEME_ID = "default"
#: The built-in whose dark palette fills in a dark layer given only in part.
DARK_THEME_ID = "dark"
#: Where the server serves an uploaded asset by its hash (``branding/assets.py``).
ASSET_PATH = "/brand-assets/"

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
# Same-origin paths under /static only: a theme never makes a page load someone else's URL.
_URL_RE = re.compile(r"/static/[A-Za-z0-9._~/%+=&?#@!$,;:-]*")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# Bounds in px (rem/em are counted as 16px): wide enough for any real design, narrow
# enough that a typo cannot make the widget unusable.
_LENGTH_BOUNDS: dict[str, tuple[float, float]] = {
    "font.size": (11.0, 24.0),
    "radius": (0.0, 32.0),
    "spacing": (4.0, 48.0),
}

#: System font stacks a designer can pick without uploading a font: nothing to download.
SYSTEM_FONT_STACKS: dict[str, str] = {
    "system": '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", '
    "Arial, sans-serif",
    "humanist": '"Avenir Next", Avenir, "Segoe UI", system-ui, sans-serif',
    "geometric": 'Futura, "Century Gothic", "Trebuchet MS", system-ui, sans-serif',
    "classical": 'Optima, Candara, "Noto Sans", source-sans-pro, sans-serif',
    "serif": 'Charter, "Bitstream Charter", "Sitka Text", Cambria, Georgia, serif',
    "transitional-serif": '"Iowan Old Style", "Palatino Linotype", "URW Palladio L", P052, serif',
    "monospace": 'ui-monospace, "Cascadia Code", "Source Code Pro", Menlo, Consolas, monospace',
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


def _check_asset(token: str, value: str | None) -> None:
    if value is not None and not _SHA256_RE.fullmatch(value):
        raise ValueError(f"{token}: {value!r} is not the SHA-256 of an uploaded asset")


def _check_choice(token: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{token}: {value!r} is not one of {', '.join(choices)}")


def _placeholders(text: str) -> set[str] | None:
    """The ``{names}`` of a format string, or None if it is not a plain one (a format
    spec, a conversion, an attribute or index: re-wording may move values, nothing more)."""
    names = set()
    try:
        for _literal, name, spec, conversion in string.Formatter().parse(text):
            if name is None:
                continue
            if spec or conversion or not name.isidentifier():
                return None
            names.add(name)
    except ValueError:
        return None
    return names


def _check_copy(message_id: str, text: str) -> None:
    if message_id not in CATALOG:
        raise ValueError(f"copy.{message_id}: there is no such message id")
    _check_text(f"copy.{message_id}", text, 500)
    allowed = _placeholders(CATALOG[message_id]) or set()
    used = _placeholders(text)
    if used is None or not used <= allowed:
        named = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
        raise ValueError(
            f"copy.{message_id}: placeholders must be among {named} "
            "(write {{ and }} for literal braces)"
        )


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
    #: An uploaded WOFF2 font, used first; ``family`` is the fallback while it loads.
    asset: str | None = None

    def __post_init__(self) -> None:
        if len(self.family) > 400 or not _FONT_FAMILY_RE.fullmatch(self.family):
            raise ValueError(
                f"font.family: {self.family!r} is not a font list "
                "(names of letters, digits, spaces and hyphens, optionally quoted)"
            )
        _check_length("font.size", self.size)
        _check_asset("font.asset", self.asset)


class Logo(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text: str
    # Rendered only as <img src>; never interpolated into CSS.
    url: str | None = None
    #: An uploaded image; wins over ``url``.
    asset: str | None = None

    def __post_init__(self) -> None:
        _check_text("logo.text", self.text, 60)
        _check_asset("logo.asset", self.asset)
        if self.url is None:
            return
        path = self.url.split("?", 1)[0].split("#", 1)[0]
        if len(self.url) > 2048 or not _URL_RE.fullmatch(self.url) or ".." in path.split("/"):
            raise ValueError(
                f"logo.url: {self.url!r} must be a /static/ path (upload other images)"
            )


ButtonStyle = Literal["filled", "outline"]
ButtonShape = Literal["rounded", "pill", "square"]
Layout = Literal["card", "full"]


class Button(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    style: ButtonStyle = "filled"
    shape: ButtonShape = "rounded"

    def __post_init__(self) -> None:
        _check_choice("button.style", self.style, ("filled", "outline"))
        _check_choice("button.shape", self.shape, ("rounded", "pill", "square"))


class Page(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: "card": the form in a card centred on the page; "full": the form fills the width.
    layout: Layout = "card"
    #: An uploaded image behind the card (the colour is ``colors.background``).
    background_image: str | None = None
    favicon: str | None = None

    def __post_init__(self) -> None:
        _check_choice("page.layout", self.layout, ("card", "full"))
        _check_asset("page.background_image", self.background_image)
        _check_asset("page.favicon", self.favicon)


class Dark(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The palette used under ``prefers-color-scheme: dark`` or a snippet's forced dark."""

    colors: Colors
    logo: str | None = None
    background_image: str | None = None

    def __post_init__(self) -> None:
        _check_asset("dark.logo", self.logo)
        _check_asset("dark.background_image", self.background_image)


class Theme(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    name: str
    colors: Colors
    font: Font
    radius: str
    spacing: str
    logo: Logo
    button: Button = msgspec.field(default_factory=Button)
    page: Page = msgspec.field(default_factory=Page)
    dark: Dark | None = None
    # Re-wording of user-visible text by message id (see widget_server.messages).
    copy: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _SLUG_RE.fullmatch(self.id):
            raise ValueError(f"id: {self.id!r} must be a slug (a-z, 0-9, -)")
        _check_text("name", self.name, 100)
        _check_length("radius", self.radius)
        _check_length("spacing", self.spacing)
        for message_id, text in self.copy.items():
            _check_copy(message_id, text)

    def assets(self) -> dict[str, str]:
        """Every asset the theme uses, by token path (``{"logo.asset": sha256}``)."""
        found = {
            "font.asset": self.font.asset,
            "logo.asset": self.logo.asset,
            "page.background_image": self.page.background_image,
            "page.favicon": self.page.favicon,
        }
        if self.dark is not None:
            found |= {
                "dark.logo": self.dark.logo,
                "dark.background_image": self.dark.background_image,
            }
        return {token: sha for token, sha in found.items() if sha is not None}


def asset_url(sha256: str) -> str:
    """Path of an uploaded asset on our own origin; the hash makes it cacheable forever."""
    _check_asset("asset", sha256)
    return ASSET_PATH + sha256


def logo_src(theme: Theme, *, dark: bool = False) -> str | None:
    """The ``<img src>`` of the theme's logo (the dark one when asked and set), or None."""
    if dark and theme.dark is not None and theme.dark.logo is not None:
        return asset_url(theme.dark.logo)
    if theme.logo.asset is not None:
        return asset_url(theme.logo.asset)
    return theme.logo.url


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


def _dark_base() -> dict[str, Any]:
    dark = load_builtin_themes()[DARK_THEME_ID].dark
    assert dark is not None, "themes/dark.json defines a dark palette"
    return msgspec.to_builtins(dark)  # type: ignore[no-any-return]


def merge_layer(base: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """``layer`` over ``base``, groups merged key by key (``None`` in a layer clears a
    token back to "not set", e.g. ``{"dark": None}`` turns the dark palette off)."""
    merged = dict(base)
    for key, value in layer.items():
        current = merged.get(key)
        if key == "dark" and current is None and isinstance(value, Mapping):
            # A dark palette given in part is completed from the built-in dark theme's.
            current = _dark_base()
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_layer(current, value)
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
        merged = merge_layer(merged, tokens)
    return _decode(merged, "resolved")


_BUTTON_RADIUS = {"rounded": "var(--ws-radius)", "pill": "999px", "square": "0px"}


def _palette(colors: Colors) -> list[tuple[str, str]]:
    return [
        (f"--ws-color-{name.replace('_', '-')}", getattr(colors, name))
        for name in colors.__struct_fields__
    ]


def _image(sha256: str | None) -> str:
    return f'url("{asset_url(sha256)}")' if sha256 else "none"


def _rule(selector: str, pairs: list[tuple[str, str]]) -> str:
    return selector + "{" + ";".join(f"{name}:{value}" for name, value in pairs) + "}"


def _button(button: Button) -> list[tuple[str, str]]:
    filled = button.style == "filled"
    return [
        ("--ws-button-bg", "var(--ws-color-primary)" if filled else "transparent"),
        (
            "--ws-button-fg",
            "var(--ws-color-primary-contrast)" if filled else "var(--ws-color-primary)",
        ),
        ("--ws-button-border", "var(--ws-color-primary)"),
        ("--ws-button-radius", _BUTTON_RADIUS[button.shape]),
    ]


def css_variables(theme: Theme) -> str:
    """The theme as a stylesheet: ``:root{--ws-color-primary:...;...}``, then, when the
    theme has a dark palette, the same custom properties for dark mode (the system's
    ``prefers-color-scheme``, unless the page forces ``data-color-scheme``).

    Safe to serve or inline because every value passed the grammars above when ``theme``
    was built; asset hashes become paths on our own origin, and nothing else is a URL.
    """
    family = theme.font.family.strip()
    font_face = ""
    if theme.font.asset is not None:
        font_face = (
            '@font-face{font-family:"ws-brand";'
            f'src:url("{asset_url(theme.font.asset)}") format("woff2");font-display:swap}}'
        )
        family = f'"ws-brand", {family}'
    pairs = [
        *_palette(theme.colors),
        ("--ws-font-family", family),
        ("--ws-font-size", theme.font.size),
        ("--ws-radius", theme.radius),
        ("--ws-spacing", theme.spacing),
        *_button(theme.button),
        ("--ws-card-width", "100%" if theme.page.layout == "full" else "440px"),
        ("--ws-page-image", _image(theme.page.background_image)),
        ("color-scheme", "light dark" if theme.dark else "light"),
    ]
    css = font_face + _rule(":root", pairs)
    if theme.dark is not None:
        image = theme.dark.background_image or theme.page.background_image
        dark = [
            *_palette(theme.dark.colors),
            ("--ws-page-image", _image(image)),
            ("color-scheme", "dark"),
        ]
        css += (
            "@media (prefers-color-scheme:dark){"
            + _rule(":root:not([data-color-scheme=light])", dark)
            + "}"
            + _rule(":root[data-color-scheme=dark]", dark)
        )
    return css
