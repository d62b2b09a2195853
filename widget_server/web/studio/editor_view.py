"""What the editor's template needs: each control's value (the theme's, or what was typed
when a save was refused), its errors, and the contrast badges beside the colours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from widget_server.branding.catalogue import ThemeDetail
from widget_server.branding.contrast import ContrastCheck
from widget_server.messages import Msg
from widget_server.themes import SYSTEM_FONT_STACKS, Theme, load_builtin_themes
from widget_server.web.studio.tokens_form import (
    ASSET_TOKENS,
    COLOR_LABELS,
    COLOR_TOKENS,
    CONTRAST_OF,
    copy_rows,
    font_choices,
    picker_value,
)

Form = Mapping[str, Sequence[str]]


def theme_values(theme: Theme) -> dict[str, str]:
    """Every control's value for ``theme``, by control name (the token path)."""
    dark = theme.dark or _dark_default()
    values = {f"colors.{n}": getattr(theme.colors, n) for n in COLOR_TOKENS}
    values |= {f"dark.colors.{n}": getattr(dark.colors, n) for n in COLOR_TOKENS}
    values |= {
        "font.family": theme.font.family.strip(),
        "font.size": theme.font.size,
        "radius": theme.radius,
        "spacing": theme.spacing,
        "logo.text": theme.logo.text,
        "logo.url": theme.logo.url or "",
        "button.style": theme.button.style,
        "button.shape": theme.button.shape,
        "page.layout": theme.page.layout,
        "dark.enabled": "1" if theme.dark is not None else "",
        "logo.asset": theme.logo.asset or "",
        "dark.logo": (theme.dark.logo if theme.dark else None) or "",
        "page.favicon": theme.page.favicon or "",
        "page.background_image": theme.page.background_image or "",
        "dark.background_image": (theme.dark.background_image if theme.dark else None) or "",
        "font.asset": theme.font.asset or "",
    }
    values |= {f"copy.{k}": v for k, v in theme.copy.items()}
    return values


def _dark_default() -> Any:
    dark = load_builtin_themes()["dark"].dark
    assert dark is not None
    return dark


def form_values(theme: Theme, form: Form | None) -> dict[str, str]:
    """The theme's values, overridden by a refused form's (so nothing typed is lost)."""
    values = theme_values(theme)
    if form is None:
        return values
    typed = {k: v[0] for k, v in form.items() if v and isinstance(v[0], str)}
    values |= {k: v for k, v in typed.items() if k in values or k.startswith("copy.")}
    values["dark.enabled"] = typed.get("dark.enabled", "")
    return values


def dom_id(name: str) -> str:
    """An element id for a control name (``colors.primary`` → ``colors-primary``): dots
    would read as classes in the selectors htmx swaps by."""
    return name.replace(".", "-").replace("_", "-")


#: The controls whose errors the live check swaps (copy errors are listed apart).
FIELD_NAMES: tuple[str, ...] = (
    *(f"colors.{n}" for n in COLOR_TOKENS),
    *(f"dark.colors.{n}" for n in COLOR_TOKENS),
    "font.family",
    "font.size",
    "radius",
    "spacing",
    "logo.text",
    "tokens",
    *ASSET_TOKENS,
)


def badges(contrast: Sequence[ContrastCheck]) -> dict[str, ContrastCheck]:
    """Contrast checks by ``palette.pair`` (``light.button``)."""
    return {f"{c.palette}.{c.pair}": c for c in contrast}


def editor_context(
    detail: ThemeDetail, values: dict[str, str], errors: Mapping[str, Sequence[Msg]]
) -> dict[str, Any]:
    return {
        "v": values,
        "errors": errors,
        "color_tokens": COLOR_TOKENS,
        "color_labels": COLOR_LABELS,
        "contrast_of": CONTRAST_OF,
        "badges": badges(detail.contrast),
        "contrast": detail.contrast,
        "picker": picker_value,
        "fonts": font_choices(values.get("font.family", "")),
        "font_stacks": SYSTEM_FONT_STACKS,
        "copy_rows": copy_rows(detail.resolved),
        "asset_tokens": ASSET_TOKENS,
        "dom_id": dom_id,
    }
