"""Password policy: each rule by message id, all failures together, help and check in step."""

from __future__ import annotations

import time
from typing import Any

import pytest

from widget_server.messages import CATALOG, Msg
from widget_server.passwords.policy import (
    DEFAULT_POLICY,
    HARD_CAP,
    NO_CONTEXT,
    CommonPassword,
    IdentifierSimilarity,
    MaxLength,
    MinDigits,
    MinLength,
    MinLowercase,
    MinSpecial,
    MinUppercase,
    PasswordContext,
    PasswordPolicy,
    load_common_passwords,
    policy_from_config,
)

STRONG = "violet-harbour-77-lantern"
EMAIL = PasswordContext(identifier="jane.doe@example.com", attributes=("Jane", "Doe"))
PHONE = PasswordContext(identifier="+49 151 23456789")


def ids(messages: list[Msg]) -> list[str]:
    return [m.id for m in messages]


class SpyValidator:
    """Records whether the policy ever ran it."""

    name = "spy"

    def __init__(self) -> None:
        self.calls = 0

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        self.calls += 1
        return []

    def help(self) -> Msg:
        return Msg(id="password.help.common", level="info")


# Single validators ---------------------------------------------------------------------


def test_min_length() -> None:
    rule = MinLength(10)
    assert rule.validate("a" * 10, NO_CONTEXT) == []
    [error] = rule.validate("a" * 9, NO_CONTEXT)
    assert (error.id, error.params) == ("password.too_short", {"min": 10})
    assert rule.help().id == "password.help.min_length"


def test_max_length() -> None:
    rule = MaxLength(64)
    assert rule.validate("a" * 64, NO_CONTEXT) == []
    [error] = rule.validate("a" * 65, NO_CONTEXT)
    assert (error.id, error.params) == ("password.too_long", {"max": 64})
    assert rule.help().id == "password.help.max_length"


@pytest.mark.parametrize("password", ["password", "  PassWord ", "qwerty123", "123456789"])
def test_common_password_is_refused_whatever_its_case_and_spaces(password: str) -> None:
    assert ids(CommonPassword().validate(password, NO_CONTEXT)) == ["password.common"]


def test_uncommon_password_passes_and_list_is_loaded_once() -> None:
    assert CommonPassword().validate(STRONG, NO_CONTEXT) == []
    assert len(load_common_passwords()) > 10_000
    assert load_common_passwords() is load_common_passwords()
    assert CommonPassword().help().id == "password.help.common"


@pytest.mark.parametrize(
    "password",
    ["jane.doe@example.com", "JaneDoe2024", "janedoe1", "doe.jane", "jane.doe.example"],
)
def test_password_like_the_email_is_refused(password: str) -> None:
    [error] = IdentifierSimilarity().validate(password, EMAIL)
    assert (error.id, error.params) == ("password.similar", {"identifier": "email address"})


def test_password_like_the_phone_is_refused_and_named_as_phone() -> None:
    [error] = IdentifierSimilarity().validate("4915123456789", PHONE)
    assert (error.id, error.params) == ("password.similar", {"identifier": "phone number"})


def test_password_like_another_attribute_is_refused() -> None:
    ctx = PasswordContext(identifier="x@example.com", attributes=("Bartholomew",))
    assert ids(IdentifierSimilarity().validate("bartholomew1", ctx)) == ["password.similar_details"]


def test_dissimilar_password_or_no_context_passes() -> None:
    assert IdentifierSimilarity().validate(STRONG, EMAIL) == []
    assert IdentifierSimilarity().validate("janedoe1", NO_CONTEXT) == []


def test_similarity_is_not_computed_for_passwords_over_256_chars() -> None:
    identifier = "a" * 300 + "@example.com"
    ctx = PasswordContext(identifier=identifier)
    assert IdentifierSimilarity().validate(identifier[:257], ctx) == []
    assert ids(IdentifierSimilarity().validate(identifier[:256], ctx)) == ["password.similar"]


def test_similarity_help_names_the_configured_identifier() -> None:
    assert IdentifierSimilarity().help().id == "password.help.similar"
    assert IdentifierSimilarity(identifier="phone number").help().id == (
        "password.help.similar_phone"
    )


@pytest.mark.parametrize(
    ("rule", "passing", "failing", "error_id", "help_id"),
    [
        (MinDigits(2), "abc12", "abc1", "password.need_digits", "password.help.digits"),
        (MinLowercase(2), "ABcd", "ABCd", "password.need_lowercase", "password.help.lowercase"),
        (MinUppercase(2), "abCD", "abcD", "password.need_uppercase", "password.help.uppercase"),
        (MinSpecial(2), "ab!#", "ab1!", "password.need_special", "password.help.special"),
    ],
)
def test_composition_rules(
    rule: Any, passing: str, failing: str, error_id: str, help_id: str
) -> None:
    assert rule.validate(passing, NO_CONTEXT) == []
    [error] = rule.validate(failing, NO_CONTEXT)
    assert (error.id, error.params) == (error_id, {"min": 2})
    assert (rule.help().id, rule.help().params) == (help_id, {"min": 2})


@pytest.mark.parametrize(
    "make",
    [
        lambda: MinLength(0),
        lambda: MaxLength(HARD_CAP + 1),
        lambda: IdentifierSimilarity(max_similarity=0.05),
        lambda: MinDigits(0),
    ],
)
def test_validators_refuse_nonsense_options(make: Any) -> None:
    with pytest.raises(ValueError):
        make()


def test_every_message_id_used_is_in_the_catalog() -> None:
    for msg in DEFAULT_POLICY.help():
        assert msg.id in CATALOG
    composition = (MinDigits(), MinLowercase(), MinUppercase(), MinSpecial())
    for rule in composition:
        assert rule.help().id in CATALOG


# The policy ----------------------------------------------------------------------------


def test_default_policy_follows_design_defaults() -> None:
    assert [v.name for v in DEFAULT_POLICY.validators] == [
        "min_length",
        "max_length",
        "common",
        "similarity",
    ]
    assert (DEFAULT_POLICY.min_length, DEFAULT_POLICY.max_length) == (8, 128)
    assert DEFAULT_POLICY.validate(STRONG, EMAIL) == []


def test_policy_collects_every_failure() -> None:
    policy = PasswordPolicy(
        (MinLength(12), CommonPassword(), IdentifierSimilarity(), MinDigits(1), MinUppercase(1))
    )
    ctx = PasswordContext(identifier="password@example.com")
    assert ids(policy.validate("password", ctx)) == [
        "password.too_short",
        "password.common",
        "password.similar",
        "password.need_digits",
        "password.need_uppercase",
    ]


def test_huge_password_is_refused_before_any_validator_runs() -> None:
    spy = SpyValidator()
    policy = PasswordPolicy((MinLength(8), MaxLength(128), spy))
    started = time.perf_counter()
    errors = policy.validate("x" * 10_000, EMAIL)
    assert time.perf_counter() - started < 0.05
    assert [(m.id, m.params) for m in errors] == [("password.too_long", {"max": 128})]
    assert spy.calls == 0


def test_hard_cap_applies_even_without_a_max_length_rule() -> None:
    policy = PasswordPolicy((MinLength(8),))
    assert [(m.id, m.params) for m in policy.validate("x" * (HARD_CAP + 1))] == [
        ("password.too_long", {"max": HARD_CAP})
    ]
    assert policy.validate("x" * HARD_CAP) == []


def test_check_lists_the_same_rules_and_texts_as_help() -> None:
    policy = PasswordPolicy((MinLength(8), MaxLength(64), CommonPassword(), MinDigits(1)))
    results = policy.check("password")
    assert tuple(r.help for r in results) == policy.help()
    assert [r.rule for r in results] == [v.name for v in policy.validators]
    assert {r.rule: r.ok for r in results} == {
        "min_length": True,
        "max_length": True,
        "common": False,
        "min_digits": False,
    }


def test_check_agrees_with_validate() -> None:
    for password in ["", "short", "password", STRONG, "jane.doe2024", "x" * 200]:
        failed = {r.rule for r in DEFAULT_POLICY.check(password, EMAIL) if not r.ok}
        assert bool(failed) == bool(DEFAULT_POLICY.validate(password, EMAIL))


def test_check_over_the_hard_cap_marks_nothing_as_met() -> None:
    assert not any(r.ok for r in DEFAULT_POLICY.check("x" * (HARD_CAP + 1)))


# Configuration -------------------------------------------------------------------------


def test_empty_config_is_the_default_policy() -> None:
    assert policy_from_config({}) == DEFAULT_POLICY


def test_full_config() -> None:
    policy = policy_from_config(
        {
            "min_length": 12,
            "max_length": 64,
            "common": False,
            "similarity": False,
            "min_digits": 1,
            "min_lowercase": 0,
            "min_uppercase": 2,
            "min_special": 1,
        }
    )
    assert policy.validators == (
        MinLength(12),
        MaxLength(64),
        MinDigits(1),
        MinUppercase(2),
        MinSpecial(1),
    )


def test_config_for_a_phone_pool_names_the_phone_in_help() -> None:
    policy = policy_from_config({}, identifier="phone number")
    assert "password.help.similar_phone" in ids(list(policy.help()))


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"min_lenght": 8}, "min_lenght"),
        ({"min_length": 0}, "min_length"),
        ({"min_length": 100, "max_length": 90}, "below min_length"),
        ({"max_length": HARD_CAP + 1}, "max_length"),
        ({"max_length": 32}, "max_length"),
        ({"min_digits": -1}, "min_digits"),
        ({"min_length": "8"}, "min_length"),
        ({"min_length": True}, "min_length"),
        ({"common": 1}, "common"),
        ({"min_length": None}, "min_length"),
        ({"min_digits": 70, "min_special": 70}, "composition"),
    ],
)
def test_bad_config_is_refused_with_a_reason(config: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        policy_from_config(config)


def test_config_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="object"):
        policy_from_config([("min_length", 8)])  # type: ignore[arg-type]
