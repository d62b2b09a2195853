"""The editor's form as a token layer, and a theme as the editor's controls.

Every control is named by its token path (``colors.primary``, ``dark.colors.text``,
``copy.ui.log_in``), so a grammar error from ``branding.tokens`` (keyed by that path) lands
beside the control that caused it. The form always carries every token, so a save
replaces the whole draft layer; the grammar, not this module, decides what is valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from coloraide import Color

from widget_server.messages import CATALOG
from widget_server.themes import SYSTEM_FONT_STACKS, Colors, Theme

Form = Mapping[str, Sequence[str]]

COLOR_TOKENS: tuple[str, ...] = tuple(Colors.__struct_fields__)
#: Labels of the colour tokens, in the editor's order.
COLOR_LABELS: dict[str, str] = {
    "primary": "Primary",
    "primary_contrast": "Text on primary",
    "background": "Page background",
    "surface": "Card surface",
    "text": "Text",
    "muted": "Muted text",
    "border": "Borders",
    "error": "Error",
    "success": "Success",
    "focus": "Focus ring",
}
#: Which contrast pair (``branding.contrast.PAIRS``) a colour token's badge shows.
CONTRAST_OF: dict[str, str] = {
    "text": "text",
    "muted": "muted",
    "primary_contrast": "button",
    "error": "error",
    "focus": "focus",
}
FONT_LABELS: dict[str, str] = {
    "system": "System UI",
    "humanist": "Humanist sans",
    "geometric": "Geometric sans",
    "classical": "Classical sans",
    "serif": "Old-style serif",
    "transitional-serif": "Transitional serif",
    "monospace": "Monospace",
}
ASSET_TOKENS = (
    "logo.asset",
    "dark.logo",
    "page.favicon",
    "page.background_image",
    "dark.background_image",
    "font.asset",
)


class FontChoice(NamedTuple):
    key: str
    label: str
    stack: str


def font_choices(current: str) -> list[FontChoice]:
    """The safe system stacks, and the theme's own stack if it is none of them."""
    choices = [FontChoice(k, FONT_LABELS.get(k, k), v) for k, v in SYSTEM_FONT_STACKS.items()]
    if current.strip() not in {c.stack for c in choices}:
        choices.insert(0, FontChoice("current", "This theme's font list", current.strip()))
    return choices


def _one(form: Form, name: str) -> str:
    values = form.get(name) or ()
    return values[0].strip() if values else ""


def _asset(form: Form, name: str) -> str | None:
    return _one(form, name) or None


def tokens_from_form(form: Form) -> dict[str, Any]:
    """The token layer the editor's controls describe (unsaved: the grammar checks it)."""
    layer: dict[str, Any] = {
        "colors": {name: _one(form, f"colors.{name}") for name in COLOR_TOKENS},
        "font": {
            "family": _one(form, "font.family"),
            "size": _one(form, "font.size"),
            "asset": _asset(form, "font.asset"),
        },
        "radius": _one(form, "radius"),
        "spacing": _one(form, "spacing"),
        "logo": {
            "text": _one(form, "logo.text"),
            "url": _asset(form, "logo.url"),
            "asset": _asset(form, "logo.asset"),
        },
        "button": {"style": _one(form, "button.style"), "shape": _one(form, "button.shape")},
        "page": {
            "layout": _one(form, "page.layout"),
            "background_image": _asset(form, "page.background_image"),
            "favicon": _asset(form, "page.favicon"),
        },
        "dark": None,
        "copy": {
            name.removeprefix("copy."): values[0]
            for name, values in form.items()
            if name.startswith("copy.") and values and values[0].strip()
        },
    }
    if _one(form, "dark.enabled"):
        layer["dark"] = {
            "colors": {name: _one(form, f"dark.colors.{name}") for name in COLOR_TOKENS},
            "logo": _asset(form, "dark.logo"),
            "background_image": _asset(form, "dark.background_image"),
        }
    return layer


def picker_value(value: str) -> str:
    """What ``<input type=color>`` can show of ``value`` (#rrggbb only; alpha dropped)."""
    try:
        return str(Color(value).convert("srgb").clip().to_string(hex=True, alpha=False))
    except (ValueError, TypeError):
        return "#000000"


class CopyRow(NamedTuple):
    id: str
    default: str
    value: str


def copy_rows(theme: Theme) -> list[CopyRow]:
    """Every message id a theme may re-word, with its default text and the override."""
    return [CopyRow(key, text, theme.copy.get(key, "")) for key, text in CATALOG.items()]


def asset_values(theme: Theme) -> dict[str, str | None]:
    dark = theme.dark
    return {
        "logo.asset": theme.logo.asset,
        "dark.logo": dark.logo if dark else None,
        "page.favicon": theme.page.favicon,
        "page.background_image": theme.page.background_image,
        "dark.background_image": dark.background_image if dark else None,
        "font.asset": theme.font.asset,
    }
