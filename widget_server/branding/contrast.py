"""WCAG 2.2 AA contrast of a theme's colour pairs, for the light and the dark palette.

Text pairs need 4.5:1 (SC 1.4.3, normal-size text); the focus ring is a non-text
indicator and needs 3:1 against what it sits on (SC 1.4.11). Ratios are the WCAG 2.x
relative-luminance formula as ``coloraide`` implements it (``method="wcag21"``; 2.2 did
not change it). They are compared unrounded: #777777 on white is 4.478:1 and fails,
however it is displayed.

A translucent colour is composited over what is behind it first (a focus ring of
``#4f46e566`` is seen over the card's surface, the surface over the page background), so a
pale, mostly transparent ring is judged as the pale colour it is on screen.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from coloraide import Color

from widget_server.themes import Colors, Theme

Palette = Literal["light", "dark"]
TEXT_AA = 4.5
NON_TEXT_AA = 3.0

#: (pair id, foreground token, background token, minimum ratio)
PAIRS: tuple[tuple[str, str, str, float], ...] = (
    ("text", "text", "surface", TEXT_AA),
    ("muted", "muted", "surface", TEXT_AA),
    ("button", "primary_contrast", "primary", TEXT_AA),
    ("error", "error", "surface", TEXT_AA),
    ("focus", "focus", "surface", NON_TEXT_AA),
)


class ContrastCheck(msgspec.Struct, frozen=True, kw_only=True):
    palette: Palette
    #: ``text``, ``muted``, ``button``, ``error`` or ``focus``.
    pair: str
    #: The two tokens compared (``colors.text`` on ``colors.surface``) and their values.
    foreground: str
    background: str
    foreground_value: str
    background_value: str
    #: Rounded to two decimals for display; ``passes`` compares the exact ratio.
    ratio: float
    required: float
    passes: bool

    @property
    def id(self) -> str:
        """``light.text``, ``dark.focus``: how failures are named in audit and history."""
        return f"{self.palette}.{self.pair}"


def contrast_ratio(foreground: str, background: str, behind: str = "#ffffff") -> float:
    """The WCAG contrast of ``foreground`` over ``background`` (itself over ``behind``)."""
    ground = Color.layer([background, behind], space="srgb").clip()
    ink = Color.layer([foreground, ground], space="srgb").clip()
    return float(ink.contrast(ground, method="wcag21"))


def _checks(palette: Palette, colors: Colors) -> list[ContrastCheck]:
    # Whatever sits behind the card: the page background, itself over white or black.
    page = Color.layer(
        [colors.background, "#ffffff" if palette == "light" else "#000000"], space="srgb"
    ).to_string(hex=True)
    checks = []
    for pair, fg, bg, required in PAIRS:
        fg_value, bg_value = getattr(colors, fg), getattr(colors, bg)
        behind = (
            page if bg != "primary" else Color.layer([colors.surface, page]).to_string(hex=True)
        )
        ratio = contrast_ratio(fg_value, bg_value, behind)
        checks.append(
            ContrastCheck(
                palette=palette,
                pair=pair,
                foreground=f"colors.{fg}",
                background=f"colors.{bg}",
                foreground_value=fg_value,
                background_value=bg_value,
                ratio=round(ratio, 2),
                required=required,
                passes=ratio >= required,
            )
        )
    return checks


def check_contrast(theme: Theme) -> list[ContrastCheck]:
    """Every pair of the light palette, then of the dark one if the theme has it."""
    checks = _checks("light", theme.colors)
    if theme.dark is not None:
        checks += _checks("dark", theme.dark.colors)
    return checks


def failures(theme: Theme) -> list[str]:
    """Ids of the pairs below AA (``["light.focus"]``); empty when the theme passes."""
    return [check.id for check in check_contrast(theme) if not check.passes]
