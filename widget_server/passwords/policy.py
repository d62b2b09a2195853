"""Password policy: a list of small validators, configured per pool by name and options.

Each validator both checks a password and states its rule (``help()``), so the rule
list shown while the user types and the errors after submit come from the same
objects and cannot drift apart. Modelled on Django's ``password_validation``.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated, ClassVar, Literal, Protocol

import msgspec

from widget_server.messages import Msg, msg

HARD_CAP = 1024
"""Longest password we will look at at all, whatever a pool says; longer input is refused
before any validator runs, so it is never scanned, compared or hashed."""

MIN_MAX_LENGTH = 64
"""A pool may not set its maximum below this (docs/architecture.md: accept at least 64), so
passphrases and password-manager output always fit."""

def has_control_characters(password: str) -> bool:
    """NUL, other C0/C1 controls (tab, newline, DEL, …) or a lone surrogate: nothing a
    person types, and NUL ends the string for some clients, while a surrogate cannot be
    encoded for hashing at all. Refused before any rule (``password.control_characters``),
    at registration, reset, change and admin create alike. Format characters such as the
    zero-width joiner in emoji sequences are allowed."""
    return any(unicodedata.category(c) in _CONTROL for c in password)


_CONTROL = frozenset({"Cc", "Cs"})

SIMILARITY_INPUT_CAP = 256
"""Similarity is only computed for passwords (and values) up to this length, to bound work."""

IdentifierLabel = Literal["email address", "phone number"]


class PasswordContext(msgspec.Struct, frozen=True, kw_only=True):
    """What else the user told us, for rules that compare the password against it."""

    identifier: str | None = None
    """The email address or phone number the user signs in with."""
    attributes: tuple[str, ...] = ()
    """Other values the user supplied (names, company) that a password should not resemble."""


NO_CONTEXT = PasswordContext()


class Validator(Protocol):
    """One password rule. ``validate`` returns no messages when the password passes."""

    @property
    def name(self) -> str: ...

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]: ...

    def help(self) -> Msg: ...


class RuleResult(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the live rule list: which rule, its text, and whether it is met."""

    rule: str
    help: Msg
    ok: bool
    live: bool = True
    """False for a rule the live check cannot judge (``NoReuse``): draw it as a
    plain rule, neither met nor failed."""


@dataclass(frozen=True, slots=True)
class MinLength:
    min: int = 8
    name: ClassVar[str] = "min_length"

    def __post_init__(self) -> None:
        if not 1 <= self.min <= HARD_CAP:
            raise ValueError(f"min_length must be between 1 and {HARD_CAP}, not {self.min}")

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        return [] if len(password) >= self.min else [msg("password.too_short", min=self.min)]

    def help(self) -> Msg:
        return msg("password.help.min_length", level="info", min=self.min)


@dataclass(frozen=True, slots=True)
class MaxLength:
    max: int = 128
    name: ClassVar[str] = "max_length"

    def __post_init__(self) -> None:
        if not 1 <= self.max <= HARD_CAP:
            raise ValueError(f"max_length must be between 1 and {HARD_CAP}, not {self.max}")

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        return [] if len(password) <= self.max else [msg("password.too_long", max=self.max)]

    def help(self) -> Msg:
        return msg("password.help.max_length", level="info", max=self.max)


@cache
def load_common_passwords() -> frozenset[str]:
    """The offline common-password list, read once on first use (call at startup to pre-warm).

    The list is Django's ``common-passwords.txt.gz`` (BSD licence, Django Software
    Foundation; see ``common-passwords.LICENSE`` beside it): an offline list means no
    password ever leaves the server for a breach-lookup service.
    """
    data = resources.files(__package__).joinpath("common-passwords.txt.gz").read_bytes()
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    return frozenset(s for line in lines if (s := line.strip().lower()))


@dataclass(frozen=True, slots=True)
class CommonPassword:
    name: ClassVar[str] = "common"

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        # Case and surrounding spaces don't make "Password " any harder to guess.
        if password.strip().lower() in load_common_passwords():
            return [msg("password.common")]
        return []

    def help(self) -> Msg:
        return msg("password.help.common", level="info")


_NON_WORD = re.compile(r"\W+")


def _comparable_parts(value: str) -> set[str]:
    """The value, its pieces between punctuation, an email's local part, a phone's digits."""
    value = value.lower()[:SIMILARITY_INPUT_CAP]
    parts = {value, value.rpartition("@")[0], *_NON_WORD.split(value)}
    parts.add("".join(ch for ch in value if ch.isdigit()))
    parts.discard("")
    return parts


def _too_short_to_matter(password: str, part: str, max_similarity: float) -> bool:
    # Django's bound: a part a tenth the password's length can't reach the threshold,
    # so skip the matcher for it (quick_ratio <= 2 / length ratio).
    return len(password) >= 10 * len(part) and len(part) < max_similarity / 2 * len(password)


@dataclass(frozen=True, slots=True)
class IdentifierSimilarity:
    """Refuses passwords that resemble the identifier or the user's other values."""

    max_similarity: float = 0.7
    identifier: IdentifierLabel = "email address"
    """Named in the help text, which is shown before the user has typed an identifier."""
    name: ClassVar[str] = "similarity"

    def __post_init__(self) -> None:
        if not 0.1 <= self.max_similarity <= 1.0:
            raise ValueError("max_similarity must be between 0.1 and 1.0")

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        if len(password) > SIMILARITY_INPUT_CAP:
            return []
        lowered = password.lower()
        if ctx.identifier and self._resembles(lowered, ctx.identifier):
            # Name what the user actually typed; a pool may accept both kinds.
            label = "email address" if "@" in ctx.identifier else "phone number"
            return [msg("password.similar", identifier=label)]
        if any(self._resembles(lowered, value) for value in ctx.attributes):
            return [msg("password.similar_details")]
        return []

    def _resembles(self, password: str, value: str) -> bool:
        counts: Counter[str] | None = None
        for part in _comparable_parts(value):
            if _too_short_to_matter(password, part, self.max_similarity):
                continue
            # difflib's real_quick_ratio (lengths only) and quick_ratio (characters in
            # common, in any order) are upper bounds of SequenceMatcher.ratio. Like Django
            # we take quick_ratio as the score: it is linear on any input and also catches
            # reordered characters. Computed here as difflib defines them, without
            # building a matcher per part (most of the registration's policy CPU).
            total = len(password) + len(part)
            if 2 * min(len(password), len(part)) < self.max_similarity * total:
                continue
            if counts is None:
                counts = Counter(password)
            common = sum(min(n, counts[ch]) for ch, n in Counter(part).items())
            if 2 * common >= self.max_similarity * total:
                return True
        return False

    def help(self) -> Msg:
        if self.identifier == "phone number":
            return msg("password.help.similar_phone", level="info")
        return msg("password.help.similar", level="info")


@dataclass(frozen=True, slots=True)
class _MinOfKind:
    """At least ``min`` characters of one kind. Composition rules are off unless asked for."""

    min: int = 1
    name: ClassVar[str]
    error_id: ClassVar[str]
    help_id: ClassVar[str]
    counts: ClassVar[Callable[[str], bool]]

    def __post_init__(self) -> None:
        if not 1 <= self.min <= HARD_CAP:
            raise ValueError(f"{self.name} must be between 1 and {HARD_CAP}, not {self.min}")

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        found = sum(1 for ch in password if type(self).counts(ch))
        return [] if found >= self.min else [msg(self.error_id, min=self.min)]

    def help(self) -> Msg:
        return msg(self.help_id, level="info", min=self.min)


@dataclass(frozen=True, slots=True)
class MinDigits(_MinOfKind):
    name: ClassVar[str] = "min_digits"
    error_id: ClassVar[str] = "password.need_digits"
    help_id: ClassVar[str] = "password.help.digits"
    counts: ClassVar[Callable[[str], bool]] = str.isdigit


@dataclass(frozen=True, slots=True)
class MinLowercase(_MinOfKind):
    name: ClassVar[str] = "min_lowercase"
    error_id: ClassVar[str] = "password.need_lowercase"
    help_id: ClassVar[str] = "password.help.lowercase"
    counts: ClassVar[Callable[[str], bool]] = str.islower


@dataclass(frozen=True, slots=True)
class MinUppercase(_MinOfKind):
    name: ClassVar[str] = "min_uppercase"
    error_id: ClassVar[str] = "password.need_uppercase"
    help_id: ClassVar[str] = "password.help.uppercase"
    counts: ClassVar[Callable[[str], bool]] = str.isupper


def _is_special(ch: str) -> bool:
    return not ch.isalnum()


@dataclass(frozen=True, slots=True)
class MinSpecial(_MinOfKind):
    name: ClassVar[str] = "min_special"
    error_id: ClassVar[str] = "password.need_special"
    help_id: ClassVar[str] = "password.help.special"
    counts: ClassVar[Callable[[str], bool]] = _is_special


MAX_HISTORY = 24
"""The most earlier passwords a pool may forbid reusing; each costs one verify per change."""


@dataclass(frozen=True, slots=True)
class NoReuse:
    """No reuse of the last ``count`` passwords: a rule stated here, checked elsewhere.

    Telling whether a password was used before needs the user's stored hashes and one
    argon2 verify per hash (``passwords.history.reused``), which a pure, synchronous,
    per-keystroke validator can neither reach nor afford. So ``validate`` never fails;
    the rule is here so the help list, built from the same objects as the checks, names
    it, and the flow that sets a password runs the real check before storing it.
    """

    count: int
    name: ClassVar[str] = "history"

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_HISTORY:
            raise ValueError(f"history must be between 1 and {MAX_HISTORY}, not {self.count}")

    def validate(self, password: str, ctx: PasswordContext) -> list[Msg]:
        return []

    def help(self) -> Msg:
        return msg("password.help.history", level="info", count=self.count)

    def reused(self) -> Msg:
        """The error for a password found among the last ``count`` (``history.reused``)."""
        return msg("password.history", count=self.count)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """A pool's rules. ``validate`` reports every failure at once, not the first."""

    validators: tuple[Validator, ...]

    @property
    def max_length(self) -> int:
        """The longest password accepted (for ``maxlength`` on the input)."""
        return min((v.max for v in self.validators if isinstance(v, MaxLength)), default=HARD_CAP)

    @property
    def min_length(self) -> int:
        """The shortest password accepted (for ``minlength`` on the input)."""
        return max((v.min for v in self.validators if isinstance(v, MinLength)), default=0)

    @property
    def history(self) -> int:
        """How many earlier passwords a new one must differ from (0: no history rule)."""
        return max((v.count for v in self.validators if isinstance(v, NoReuse)), default=0)

    def validate(self, password: str, ctx: PasswordContext = NO_CONTEXT) -> list[Msg]:
        if len(password) > HARD_CAP:
            return [msg("password.too_long", max=self.max_length)]
        if has_control_characters(password):
            return [msg("password.control_characters")]
        return [m for v in self.validators for m in v.validate(password, ctx)]

    def help(self) -> tuple[Msg, ...]:
        return tuple(v.help() for v in self.validators)

    def check(self, password: str, ctx: PasswordContext = NO_CONTEXT) -> tuple[RuleResult, ...]:
        # Over the cap (or unreadable) nothing runs, so no rule can be reported as met.
        in_bounds = len(password) <= HARD_CAP and not has_control_characters(password)
        return tuple(
            RuleResult(
                rule=v.name,
                help=v.help(),
                ok=in_bounds and not v.validate(password, ctx),
                live=not isinstance(v, NoReuse),
            )
            for v in self.validators
        )


_Count = Annotated[int, msgspec.Meta(ge=0, le=HARD_CAP)]


class PolicyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A pool's stored password-policy settings; the defaults are those of
    docs/architecture.md ("Security decisions")."""

    min_length: Annotated[int, msgspec.Meta(ge=1, le=HARD_CAP)] = 8
    max_length: Annotated[int, msgspec.Meta(ge=MIN_MAX_LENGTH, le=HARD_CAP)] = 128
    common: bool = True
    similarity: bool = True
    min_digits: _Count = 0
    min_lowercase: _Count = 0
    min_uppercase: _Count = 0
    min_special: _Count = 0
    history: Annotated[int, msgspec.Meta(ge=0, le=MAX_HISTORY)] = 0
    """Refuse a new password equal to any of the user's last ``history`` ones (0: off)."""

    def __post_init__(self) -> None:
        if self.max_length < self.min_length:
            raise ValueError(
                f"max_length ({self.max_length}) is below min_length ({self.min_length})"
            )
        required = self.min_digits + self.min_lowercase + self.min_uppercase + self.min_special
        if required > self.max_length:
            raise ValueError(
                f"composition rules need {required} characters, more than max_length "
                f"({self.max_length})"
            )


def build_policy(
    config: PolicyConfig, *, identifier: IdentifierLabel = "email address"
) -> PasswordPolicy:
    validators: list[Validator] = [MinLength(config.min_length), MaxLength(config.max_length)]
    if config.common:
        validators.append(CommonPassword())
    if config.similarity:
        validators.append(IdentifierSimilarity(identifier=identifier))
    kinds: tuple[tuple[int, type[_MinOfKind]], ...] = (
        (config.min_digits, MinDigits),
        (config.min_lowercase, MinLowercase),
        (config.min_uppercase, MinUppercase),
        (config.min_special, MinSpecial),
    )
    validators.extend(kind(n) for n, kind in kinds if n > 0)
    if config.history > 0:
        validators.append(NoReuse(config.history))
    return PasswordPolicy(tuple(validators))


def policy_from_config(
    config: Mapping[str, object], *, identifier: IdentifierLabel = "email address"
) -> PasswordPolicy:
    """Build a pool's policy from its stored JSON settings; ``ValueError`` says what is wrong.

    ``identifier`` names what users of this pool sign in with, for the similarity help text.
    """
    if not isinstance(config, Mapping):
        raise ValueError("password policy must be a JSON object")
    try:
        parsed = msgspec.convert(dict(config), PolicyConfig, strict=True)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid password policy: {exc}") from None
    return build_policy(parsed, identifier=identifier)


DEFAULT_POLICY = build_policy(PolicyConfig())
