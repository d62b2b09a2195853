"""WCAG 2.2 AA contrast (branding/contrast.py) against pairs whose ratios are known."""

from __future__ import annotations

import pytest

from widget_server.branding.contrast import check_contrast, contrast_ratio, failures
from widget_server.themes import load_builtin_themes, resolve_theme


@pytest.mark.parametrize(
    ("foreground", "background", "ratio"),
    [
        ("#000000", "#ffffff", 21.0),
        ("#ffffff", "#ffffff", 1.0),
        ("#777777", "#ffffff", 4.48),  # the classic near miss
        ("#767676", "#ffffff", 4.54),  # the lightest grey that passes on white
        ("#ffffff", "#0000ff", 8.59),
        ("rgb(0 0 0 / 50%)", "#ffffff", 3.98),  # translucent: judged as the grey it shows
    ],
)
def test_known_pairs(foreground: str, background: str, ratio: float) -> None:
    assert contrast_ratio(foreground, background) == pytest.approx(ratio, abs=0.01)


def test_777777_on_white_fails_text_and_767676_passes() -> None:
    grey = resolve_theme({"colors": {"muted": "#777777", "surface": "#ffffff"}})
    muted = next(c for c in check_contrast(grey) if c.pair == "muted")
    assert (muted.ratio, muted.required, muted.passes) == (4.48, 4.5, False)
    assert muted.foreground == "colors.muted" and muted.background == "colors.surface"
    assert "light.muted" in failures(grey)
    assert "light.muted" not in failures(resolve_theme({"colors": {"muted": "#767676"}}))


def test_every_pair_of_both_palettes_is_checked() -> None:
    checks = check_contrast(load_builtin_themes()["dark"])
    assert [c.id for c in checks] == [
        f"{palette}.{pair}"
        for palette in ("light", "dark")
        for pair in ("text", "muted", "button", "error", "focus")
    ]
    assert {c.required for c in checks if c.pair == "focus"} == {3.0}
    assert {c.required for c in checks if c.pair != "focus"} == {4.5}


def test_button_text_is_judged_on_the_primary_colour() -> None:
    yellow = resolve_theme({"colors": {"primary": "#facc15", "primary_contrast": "#ffffff"}})
    assert failures(yellow) == ["light.button"]
    dark_text = resolve_theme({"colors": {"primary": "#facc15", "primary_contrast": "#111111"}})
    assert "light.button" not in failures(dark_text)


def test_a_pale_translucent_focus_ring_fails_the_non_text_minimum() -> None:
    pale = resolve_theme({"colors": {"focus": "#4f46e566"}})  # the old default's ring
    focus = next(c for c in check_contrast(pale) if c.pair == "focus")
    assert focus.ratio == pytest.approx(1.91, abs=0.01) and not focus.passes
