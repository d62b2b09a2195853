"""Themes are data: built-ins load, layers resolve in order, and nothing but tokens reaches CSS."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from widget_server.themes import (
    DEFAULT_THEME_ID,
    Theme,
    css_variables,
    load_builtin_themes,
    resolve_theme,
)


def test_builtin_themes_load() -> None:
    themes = load_builtin_themes()
    assert {"default", "midnight", "forest"} <= set(themes)
    for theme_id, theme in themes.items():
        assert isinstance(theme, Theme)
        assert theme.id == theme_id


def test_resolve_without_layers_is_the_default_theme() -> None:
    assert resolve_theme() == load_builtin_themes()[DEFAULT_THEME_ID]
    assert resolve_theme(None, None) == resolve_theme()


def test_most_specific_layer_wins_and_groups_merge_key_by_key() -> None:
    tenant = {"colors": {"primary": "#111111", "text": "#222222"}, "radius": "4px"}
    workspace = {"colors": {"primary": "#333333"}, "copy": {"registration.done": "Done!"}}
    pool = {"colors": {"primary": "#444444"}, "logo": {"text": "Partner"}}

    theme = resolve_theme(tenant, workspace, pool)

    assert theme.colors.primary == "#444444"  # pool beats workspace beats tenant
    assert theme.colors.text == "#222222"  # tenant value survives where nobody overrides it
    assert theme.colors.surface == resolve_theme().colors.surface  # default fills the rest
    assert theme.radius == "4px"
    assert theme.copy == {"registration.done": "Done!"}
    assert theme.logo.text == "Partner"


def test_a_whole_theme_can_be_a_layer() -> None:
    midnight = load_builtin_themes()["midnight"]
    theme = resolve_theme(midnight, {"colors": {"primary": "#abcdef"}})
    assert theme.colors.background == midnight.colors.background
    assert theme.colors.primary == "#abcdef"


@pytest.mark.parametrize(
    "color",
    ["#fff", "#4f46e5", "#4f46e580", "rgb(0, 10, 255)", "rgba(0,0,0,0.5)", "rgb(0 0 0 / 40%)",
     "hsl(210, 40%, 50%)", "hsla(210deg 40% 50% / .3)"],
)  # fmt: skip
def test_colour_forms_accepted(color: str) -> None:
    assert resolve_theme({"colors": {"primary": color}}).colors.primary == color


INJECTIONS = [
    "red;}</style><script>alert(1)</script>",
    "url(javascript:alert(1))",
    "expression(alert(1))",
    "@import 'https://evil.example/x.css'",
    "#fff;background:url(https://evil.example/)",
    "red",  # named colours are harmless but outside the grammar
    "#fff\n}",
    "rgb(0,0,0);x:y",
    "#\uff11\uff12\uff13",  # full-width digits must not pass as hex
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_colour_injections_rejected_naming_the_token(value: str) -> None:
    with pytest.raises(ValueError, match=r"colors\.primary"):
        resolve_theme({"colors": {"primary": value}})


@pytest.mark.parametrize(
    "family",
    [
        "Inter;}</style><script>alert(1)</script>",
        "url(javascript:alert(1))",
        "expression(alert(1))",
        "@import url(x)",
        "Inter\\3b color:red",
        '"Unclosed, sans-serif',
        "Inter{}",
    ],
)
def test_font_family_injections_rejected(family: str) -> None:
    with pytest.raises(ValueError, match=r"font\.family"):
        resolve_theme({"font": {"family": family}})


@pytest.mark.parametrize(
    ("layer", "token"),
    [
        ({"radius": "10px;}"}, "radius"),
        ({"radius": "expression(1)"}, "radius"),
        ({"radius": "999px"}, "radius"),
        ({"spacing": "1px"}, "spacing"),
        ({"spacing": "calc(1px + 2px)"}, "spacing"),
        ({"font": {"size": "2vw"}}, r"font\.size"),
        ({"font": {"size": "100rem"}}, r"font\.size"),
    ],
)
def test_bad_lengths_rejected(layer: dict[str, Any], token: str) -> None:
    with pytest.raises(ValueError, match=token):
        resolve_theme(layer)


def test_accepted_lengths() -> None:
    theme = resolve_theme({"radius": "0px", "spacing": "1.25rem", "font": {"size": "1em"}})
    assert (theme.radius, theme.spacing, theme.font.size) == ("0px", "1.25rem", "1em")


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:image/svg+xml,<svg onload=alert(1)>",
        "http://insecure.example/logo.png",
        "//evil.example/logo.png",
        "/static/../admin",
        'https://cdn.example/logo.png" onerror="alert(1)',
        "/uploads/logo.png",
    ],
)
def test_logo_url_must_be_https_or_static(url: str) -> None:
    with pytest.raises(ValueError, match=r"logo\.url"):
        resolve_theme({"logo": {"url": url}})


def test_logo_url_accepted_and_kept_out_of_css() -> None:
    for url in ("https://cdn.example/brand/logo.svg", "/static/logos/acme.png"):
        theme = resolve_theme({"logo": {"url": url}})
        assert theme.logo.url == url
        assert url not in css_variables(theme)


def test_unknown_tokens_rejected() -> None:
    with pytest.raises(ValueError, match="unknown field `custom_css`"):
        resolve_theme({"custom_css": "body{}"})
    with pytest.raises(ValueError, match="unknown field `link`"):
        resolve_theme({"colors": {"link": "#000"}})


def test_copy_is_plain_text_by_message_id() -> None:
    with pytest.raises(ValueError, match="copy"):
        resolve_theme({"copy": {"not an id!": "x"}})
    with pytest.raises(ValueError, match="copy"):
        resolve_theme({"copy": {"registration.done": "x" * 501}})


def test_direct_construction_validates_too() -> None:
    data = msgspec.to_builtins(resolve_theme())
    data["colors"]["primary"] = "red;}"
    with pytest.raises(ValueError, match=r"colors\.primary"):
        msgspec.convert(data, Theme)


def test_css_variables_contains_every_token() -> None:
    theme = resolve_theme({"colors": {"primary": "#123456", "primary_contrast": "#fefefe"}})
    css = css_variables(theme)
    assert css.startswith(":root{") and css.endswith("}")
    assert "--ws-color-primary:#123456;" in css
    assert "--ws-color-primary-contrast:#fefefe;" in css
    for name in ("background", "surface", "text", "muted", "border", "error", "success", "focus"):
        assert f"--ws-color-{name}:" in css
    for name in ("font-family", "font-size", "radius", "spacing"):
        assert f"--ws-{name}:" in css
    assert "<" not in css and "@" not in css


@pytest.mark.parametrize("theme", load_builtin_themes().values(), ids=lambda t: t.id)
def test_builtin_css_has_one_rule(theme: Theme) -> None:
    css = css_variables(theme)
    assert css.count("{") == 1 and css.count("}") == 1
