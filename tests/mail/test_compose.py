"""Emails (mail/compose.py): the activation email composed from a cached render is the
email a fresh render makes; every email is drawn in its pool's theme and worded by its
copy overrides, in the HTML and the text part, and loads nothing but our own logo."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from widget_server.mail.compose import Composer
from widget_server.mail.senders import Envelope
from widget_server.passwords.policy import DEFAULT_POLICY
from widget_server.pools import PoolView
from widget_server.web.shared.render import make_environment

LOGO = "ab" * 32


def pool(name: str = "Partner 1", *layers: dict[str, Any], version: int = 1) -> PoolView:
    return PoolView(
        id="p1",
        tenant_id="acme",
        name=name,
        version=version,
        schema={},
        policy=DEFAULT_POLICY,
        activation_methods=("email",),
        self_registration=True,
        allowed_origins=(),
        theme_layers=tuple(layers),
    )


@pytest.mark.parametrize("pool_name", ["Partner 1", "Tom & Jerry <Shop> \"quoted\" 'x'"])
def test_cached_activation_email_equals_a_fresh_render(pool_name: str) -> None:
    composer = Composer(make_environment())
    for code in ("123456", "000042", "987654"):  # the first fills the cache, the rest use it
        cached = composer.activation_code("jane@example.com", code, pool(pool_name), 10)
        fresh = composer._render(
            "activation_code", "jane@example.com", pool(pool_name), code=code, minutes=10
        )
        assert cached == fresh
        assert cached.subject == f"{code} is your {pool_name} verification code"
        assert code in cached.body_text and code in (cached.body_html or "")
        assert "\x00" not in cached.body_text + (cached.body_html or "")


@pytest.mark.parametrize("pool_name", ["Partner 1", "Tom & Jerry <Shop> \"quoted\" 'x'"])
def test_cached_notice_to_an_owner_equals_a_fresh_render(pool_name: str) -> None:
    # Cached like the code, so that a taken address's registration takes as long as a
    # new one's (tests/web/test_timing.py).
    composer = Composer(make_environment())
    for recipient in ("jane@example.com", "joe@example.com"):
        cached = composer.already_registered(recipient, pool(pool_name))
        assert cached == composer._render("already_registered", recipient, pool(pool_name))
    assert ("already_registered", "p1", 1, 0) in composer._bodies


def test_cache_is_per_pool_version_and_lifetime() -> None:
    composer = Composer(make_environment())
    a = composer.activation_code("a@example.com", "111111", pool("Alpha"), 10)
    b = composer.activation_code("b@example.com", "222222", pool("Beta", version=2), 15)
    assert "Alpha" in a.body_text and "Beta" not in a.body_text and "10 minutes" in a.body_text
    assert "Beta" in b.body_text and "15 minutes" in b.body_text
    # A published theme bumps the pool's version: the next email has the new look.
    red = pool("Alpha", {"colors": {"primary": "#b42318"}}, version=3)
    assert "#b42318" in (composer.activation_code("c@x.test", "333333", red, 10).body_html or "")


def test_a_non_digit_code_or_a_name_holding_the_placeholder_is_rendered_directly() -> None:
    composer = Composer(make_environment())
    odd = composer.activation_code("a@example.com", "<b>", pool("Alpha"), 10)
    assert "&lt;b&gt;" in (odd.body_html or "") and "<b>" in odd.body_text
    name = "Al\x00code\x00pha"
    direct = composer.activation_code("a@example.com", "333333", pool(name), 10)
    assert direct.body_text.count("333333") == 1
    assert not composer._bodies.get(("activation_code", "p1", 1, 10))


THEMED = {
    "colors": {"primary": "#0b7a4b", "primary_contrast": "#ffffff", "background": "#f1f7f4"},
    "logo": {"text": "Green Shop", "asset": LOGO},
    "button": {"shape": "pill"},
}
#: Each email, how to compose it, and its message ids.
EMAILS: dict[str, Callable[[Composer, PoolView], Envelope]] = {
    "activation_code": lambda c, p: c.activation_code("a@x.test", "123456", p, 10),
    "already_registered": lambda c, p: c.already_registered("a@x.test", p),
    "invitation": lambda c, p: c.invitation("a@x.test", "123456", p, "https://w.test/i?t=1", 48),
    "set_password": lambda c, p: c.set_password("a@x.test", p, "https://w.test/s?t=1", 48),
    "mfa_code": lambda c, p: c.mfa_code("a@x.test", "123456", p, 10),
    "verify_address": lambda c, p: c.verify_address("a@x.test", "123456", p, 10),
    "address_in_use": lambda c, p: c.address_in_use("a@x.test", p),
    "recovery_code": lambda c, p: c.recovery_code("a@x.test", "123456", p, 10),
    "password_changed": lambda c, p: c.password_changed("a@x.test", p),
}


@pytest.mark.parametrize("name", EMAILS)
def test_every_email_carries_the_theme_and_its_copy_overrides(name: str) -> None:
    copy = {
        f"email.{name}.heading": "<script>alert(1)</script> Hello",
        f"email.{name}.subject": "Green Shop: {pool}",
        f"email.{name}.footer": "Questions? Ask the Green Shop team.",
    }
    themed = pool("Partner 1", THEMED, {"copy": copy})
    mail = EMAILS[name](Composer(make_environment(), "https://id.example.com"), themed)
    html = mail.body_html or ""
    assert mail.subject == "Green Shop: Partner 1"
    # The theme's primary colour and background, the override (as text, never as HTML).
    assert "#0b7a4b" in html and "#f1f7f4" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hello" in html
    assert "<script>" not in html
    assert "<script>alert(1)</script> Hello" in mail.body_text
    assert "Questions? Ask the Green Shop team." in html + mail.body_text
    # The logo from our own origin is the only thing a mail client fetches.
    assert f'src="https://id.example.com/brand-assets/{LOGO}"' in html
    fetched = re.findall(r'(?:src|background)="([^"]+)"', html) + re.findall(r"url\(", html)
    assert fetched == [f"https://id.example.com/brand-assets/{LOGO}"]
    assert "<style" not in html and "<link" not in html  # inline styles only
    assert 'role="presentation"' in html  # tables for layout


@pytest.mark.parametrize("name", EMAILS)
def test_without_a_theme_every_email_has_both_parts_in_the_default_look(name: str) -> None:
    mail = EMAILS[name](Composer(make_environment()), pool("Partner 1"))
    assert mail.body_text.strip() and mail.body_html
    assert "#4f46e5" in mail.body_html  # the default theme's primary
    assert "<img" not in mail.body_html and "Widget Server" in mail.body_html  # logo text
    for link in re.findall(r"https://\S+", mail.body_text):
        assert link.startswith("https://w.test/")


def test_links_get_the_button_in_the_theme_style() -> None:
    outline = pool("P", {"button": {"style": "outline", "shape": "square"}})
    html = Composer(make_environment()).set_password("a@x.test", outline, "https://w.test/s", 2)
    body = html.body_html or ""
    assert "Choose your password</a>" in body
    assert "border-radius:0px" in body
    assert "Choose your password:" in html.body_text and "https://w.test/s" in html.body_text
