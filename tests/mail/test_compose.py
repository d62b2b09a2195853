"""The activation email, composed from a cached render, is the email a fresh render makes."""

from __future__ import annotations

import pytest

from widget_server.mail.compose import Composer
from widget_server.web.shared.render import make_environment


@pytest.mark.parametrize("pool_name", ["Partner 1", "Tom & Jerry <Shop> \"quoted\" 'x'"])
def test_cached_activation_email_equals_a_fresh_render(pool_name: str) -> None:
    composer = Composer(make_environment())
    for code in ("123456", "000042", "987654"):  # the first fills the cache, the rest use it
        cached = composer.activation_code("jane@example.com", code, pool_name, 10)
        fresh = composer._render(
            "activation_code",
            "jane@example.com",
            f"{code} is your {pool_name} verification code",
            code=code,
            pool_name=pool_name,
            minutes=10,
        )
        assert cached == fresh
        assert code in cached.body_text and code in (cached.body_html or "")
        assert "\x00" not in cached.body_text + (cached.body_html or "")


def test_cache_is_per_pool_name_and_lifetime() -> None:
    composer = Composer(make_environment())
    a = composer.activation_code("a@example.com", "111111", "Alpha", 10)
    b = composer.activation_code("b@example.com", "222222", "Beta", 15)
    assert "Alpha" in a.body_text and "Beta" not in a.body_text and "10 minutes" in a.body_text
    assert "Beta" in b.body_text and "15 minutes" in b.body_text


def test_a_non_digit_code_or_a_name_holding_the_placeholder_is_rendered_directly() -> None:
    composer = Composer(make_environment())
    odd = composer.activation_code("a@example.com", "<b>", "Alpha", 10)
    assert "&lt;b&gt;" in (odd.body_html or "") and "<b>" in odd.body_text
    name = "Al\x00code\x00pha"
    direct = composer.activation_code("a@example.com", "333333", name, 10)
    assert direct.body_text.count("333333") == 1
    assert not composer._bodies.get(("activation_code", name, 10))
