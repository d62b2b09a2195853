"""Themes are data: built-ins load, layers resolve in order, and nothing but tokens reaches CSS."""

from __future__ import annotations

import re
from typing import Any

import msgspec
import pytest

from widget_server.themes import (
    DEFAULT_THEME_ID,
    SYSTEM_FONT_STACKS,
    Theme,
    css_variables,
    load_builtin_themes,
    logo_src,
    resolve_theme,
)

SHA = "ab" * 32
OTHER_SHA = "cd" * 32

# What a theme stylesheet may consist of: an optional @font-face for an uploaded font, the
# :root rule, and the dark rules; declarations of custom properties and color-scheme only.
_DECL = r"(?:--ws-[a-z-]+|color-scheme):[^;{}<>@\\]+"
_DECLS = rf"{_DECL}(?:;{_DECL})*"
_URL = r'url\("/brand-assets/[0-9a-f]{64}"\)'
_FONT_FACE = (
    rf'@font-face\{{font-family:"ws-brand";src:{_URL} format\("woff2"\);font-display:swap\}}'
)
_DARK = (
    rf"@media \(prefers-color-scheme:dark\){{:root:not\(\[data-color-scheme=light\]\){{{_DECLS}}}}}"
    rf":root\[data-color-scheme=dark\]{{{_DECLS}}}"
)
_STYLESHEET = re.compile(rf"(?:{_FONT_FACE})?:root{{{_DECLS}}}(?:{_DARK})?")


def assert_only_theme_rules(css: str) -> None:
    assert _STYLESHEET.fullmatch(css), css
    # Every URL is one of our own asset paths.
    assert all(re.fullmatch(_URL, u) for u in re.findall(r"url\([^)]*\)", css)), css


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
        # A theme never makes the widget load a third party's URL: upload the image.
        "https://cdn.example/brand/logo.svg",
        "//evil.example/logo.png",
        "/static/../admin",
        'https://cdn.example/logo.png" onerror="alert(1)',
        "/uploads/logo.png",
    ],
)
def test_logo_url_must_be_a_static_path(url: str) -> None:
    with pytest.raises(ValueError, match=r"logo\.url"):
        resolve_theme({"logo": {"url": url}})


def test_logo_url_accepted_and_kept_out_of_css() -> None:
    for url in ("/static/logos/acme.png", "/static/logo.svg?v=2"):
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
    assert "<" not in css and "@" not in css and "url(" not in css


@pytest.mark.parametrize("theme", load_builtin_themes().values(), ids=lambda t: t.id)
def test_builtin_css_has_only_the_theme_rules(theme: Theme) -> None:
    assert_only_theme_rules(css_variables(theme))


# --- tokens of the brand studio ----------------------------------------------------------


def test_new_tokens_have_defaults_and_accept_their_values() -> None:
    plain = resolve_theme()
    assert (plain.button.style, plain.button.shape, plain.page.layout) == (
        "filled",
        "rounded",
        "card",
    )
    assert plain.dark is None and plain.assets() == {}
    theme = resolve_theme(
        {
            "font": {"asset": SHA},
            "logo": {"asset": SHA},
            "button": {"style": "outline", "shape": "pill"},
            "page": {"layout": "full", "background_image": OTHER_SHA, "favicon": SHA},
            "dark": {"colors": {"primary": "#ffffff"}, "logo": OTHER_SHA},
        }
    )
    assert theme.assets() == {
        "font.asset": SHA,
        "logo.asset": SHA,
        "page.background_image": OTHER_SHA,
        "page.favicon": SHA,
        "dark.logo": OTHER_SHA,
    }
    assert logo_src(theme) == f"/brand-assets/{SHA}"
    assert logo_src(theme, dark=True) == f"/brand-assets/{OTHER_SHA}"
    css = css_variables(theme)
    assert_only_theme_rules(css)
    assert f'src:url("/brand-assets/{SHA}") format("woff2")' in css
    assert '--ws-font-family:"ws-brand", -apple-system' in css
    assert f'--ws-page-image:url("/brand-assets/{OTHER_SHA}")' in css
    assert "--ws-button-bg:transparent;" in css and "--ws-button-radius:999px" in css
    assert "--ws-card-width:100%" in css


@pytest.mark.parametrize(
    ("layer", "token"),
    [
        ({"font": {"asset": "https://fonts.example/x.woff2"}}, r"font\.asset"),
        ({"logo": {"asset": "../../etc/passwd"}}, r"logo\.asset"),
        ({"logo": {"asset": SHA.upper()}}, r"logo\.asset"),
        ({"page": {"background_image": 'x") ; background:url("https://evil'}}, "background_image"),
        ({"page": {"favicon": SHA + "0"}}, "favicon"),
        ({"page": {"layout": "sidebar"}}, "layout"),
        ({"button": {"style": "ghost;}"}}, "style"),
        ({"button": {"shape": "blob"}}, "shape"),
        ({"dark": {"logo": "javascript:alert(1)"}}, r"dark\.logo"),
        ({"dark": {"colors": {"text": "red;}"}}}, r"colors\.text"),
        ({"page": {"frame_ancestors": "*"}}, "frame_ancestors"),
    ],
)
def test_new_tokens_are_as_strict_as_the_old(layer: dict[str, Any], token: str) -> None:
    with pytest.raises(ValueError, match=token):
        resolve_theme(layer)


def test_partial_dark_palette_is_completed_from_the_builtin_dark_theme() -> None:
    dark = load_builtin_themes()["dark"].dark
    assert dark is not None
    theme = resolve_theme({"dark": {"colors": {"primary": "#ff00ff"}}})
    assert theme.dark is not None
    assert theme.dark.colors.primary == "#ff00ff"
    assert theme.dark.colors.surface == dark.colors.surface
    # A more specific layer can switch dark mode off again.
    assert resolve_theme({"dark": {"colors": {}}}, {"dark": None}).dark is None


def test_dark_palette_becomes_media_and_forced_rules() -> None:
    css = css_variables(load_builtin_themes()["dark"])
    assert_only_theme_rules(css)
    assert "color-scheme:light dark" in css
    media, forced = css.split("@media", 1)[1].split("}}", 1)
    assert "--ws-color-background:#0b1220" in media
    assert forced.startswith(":root[data-color-scheme=dark]{")
    assert "--ws-color-background:#0b1220" in forced
    # Without a dark palette nothing reacts to the system's preference.
    assert "@media" not in css_variables(resolve_theme())


def test_copy_ids_must_exist_and_keep_their_placeholders() -> None:
    theme = resolve_theme({"copy": {"ui.sign_up_for": "Join {pool} today", "ui.back": "{{Back}}"}})
    assert theme.copy["ui.sign_up_for"] == "Join {pool} today"
    with pytest.raises(ValueError, match=r"copy\.ui\.nope: there is no such message id"):
        resolve_theme({"copy": {"ui.nope": "x"}})
    for text in ("Join {team}", "{pool.__class__}", "{pool!r}", "{pool:>99999}", "{0}", "{"):
        with pytest.raises(ValueError, match=r"copy\.ui\.sign_up_for: placeholders"):
            resolve_theme({"copy": {"ui.sign_up_for": text}})


def test_system_font_stacks_pass_the_grammar() -> None:
    for stack in SYSTEM_FONT_STACKS.values():
        assert resolve_theme({"font": {"family": stack}}).font.family == stack


def test_builtins_include_a_dark_one_and_pass_contrast() -> None:
    from widget_server.branding.contrast import failures

    themes = load_builtin_themes()
    assert {"default", "forest", "midnight", "dark"} <= set(themes)
    assert themes["dark"].dark is not None
    for theme in themes.values():
        assert failures(theme) == [], theme.id
