"""canonical.py: the one reading of an email address that names an account."""

from __future__ import annotations

import pytest

from widget_server.canonical import (
    IdentifierRefused,
    canonical_email,
    email_address,
    has_control,
    search_term,
)

FULL_WIDTH = "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"  # noqa: RUF001 - the look-alike under test
CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(
    "typed",
    [
        "jane@example.com",
        "Jane@Example.COM",
        "  jane@example.com  ",
        FULL_WIDTH,
        "ＪＡＮＥ@example.com",  # noqa: RUF001
        "jane@EXAMPLE.com",
    ],
)
def test_every_spelling_of_one_address_is_one_account(typed: str) -> None:
    assert canonical_email(typed) == "jane@example.com"


def test_idn_domains_in_either_form_are_one_domain() -> None:
    assert canonical_email("a@xn--mnchen-3ya.de") == canonical_email("a@MÜNCHEN.de")
    assert canonical_email("a@münchen.de") == "a@münchen.de"


def test_compatibility_ligatures_fold() -> None:
    assert canonical_email("\ufb01le@example.com") == "file@example.com"  # "ﬁ" ligature


def test_the_payload_form_keeps_the_case_typed() -> None:
    assert email_address("Ｊane.Doe@Example.com") == "Jane.Doe@example.com"  # noqa: RUF001


@pytest.mark.parametrize(
    "typed",
    [
        f"p{CYRILLIC_A}ypal@example.com",  # Cyrillic a inside a Latin local part
        f"jane@p{CYRILLIC_A}ypal.com",  # inside a Latin domain label
        f"jane@example.c{CYRILLIC_A}m",
    ],
)
def test_mixed_script_look_alikes_are_refused(typed: str) -> None:
    with pytest.raises(IdentifierRefused) as refused:
        canonical_email(typed)
    assert refused.value.message.id == "identifier.confusable"


def test_single_script_addresses_are_welcome() -> None:
    assert canonical_email("почта@пример.рф") == "почта@пример.рф"
    assert canonical_email("jörg@bücher.de") == "jörg@bücher.de"


@pytest.mark.parametrize(
    "typed",
    ["jane\x00@example.com", "ja\u200dne@example.com", "jane@exa\u202emple.com", "a\x85@b.de"],
)
def test_controls_and_format_characters_are_refused(typed: str) -> None:
    with pytest.raises(IdentifierRefused) as refused:
        canonical_email(typed)
    assert refused.value.message.id == "form.invalid"


@pytest.mark.parametrize("typed", ["", "jane", "jane@", "@example.com", "a@b@c.de"])
def test_unreadable_addresses_are_refused(typed: str) -> None:
    with pytest.raises(IdentifierRefused) as refused:
        canonical_email(typed)
    assert refused.value.message.id == "form.email_invalid"


def test_over_long_input_is_refused_before_parsing() -> None:
    with pytest.raises(IdentifierRefused) as refused:
        canonical_email("a" * 400 + "@example.com")
    assert refused.value.message.id == "form.too_long"


def test_search_terms_fold_like_addresses() -> None:
    assert search_term("ＪＡＮＥ") == "jane"  # noqa: RUF001
    assert has_control("a\tb") and not has_control("ab c")
