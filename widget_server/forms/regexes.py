"""Schema regular expressions, run by RE2: time linear in the input, whatever the pattern.

jsonschema runs ``pattern``, ``patternProperties`` (and ``additionalProperties`` next to
it) with Python ``re``, a backtracking engine: ``^(a+)+$`` on ``"aaaa…!"`` takes
exponential time. Admins upload schemas, so every regular expression a schema holds runs
here with RE2 instead (google-re2), which has no backtracking and so no catastrophic
patterns: ``Validator`` is jsonschema's draft 2020-12 validator with those keywords
replaced through its public ``validators.extend`` hook, and ``FORMAT_CHECKER`` checks
``"format": "regex"`` (the metaschema's rule for ``pattern``) with RE2 too.

RE2 refuses what needs backtracking: backreferences (``(a)\\1``) and look-around
(``(?=…)``, ``(?!…)``). A schema using them is refused when it is stored
(``pattern_problem``), with its own message, so the admin learns why. RE2's syntax is
close to ECMA-262's, the dialect JSON Schema names: ``\\d``, ``\\w``, ``\\s`` and ``\\b``
are ASCII, and ``$`` is the end of the text.

``unevaluatedProperties`` is the one keyword left that jsonschema would run
``patternProperties`` with Python ``re`` for; a schema using both is refused when stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import re2  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator, FormatChecker, validators  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

MAX_PATTERN_LENGTH = 1000
"""Longer patterns are refused outright: nobody needs one to describe a form field."""

MAX_PROGRAM_SIZE = 5000
"""RE2's time is linear in the value times the compiled program's size: counted
repetitions multiply it (``.{0,1000}`` is 9000 instructions, ``\\p{L}`` alone 1200).
Past this, a pattern is refused as too complex; at the cap and the form's 1000-character
values a match costs milliseconds at worst, everyday patterns are under 300."""

Reason = Literal["too_long", "too_complex", "invalid", "unsupported"]


@dataclass(frozen=True, slots=True)
class PatternProblem:
    """Why a pattern cannot be used: over-long, too complex a program, not a regular
    expression at all, or one only a backtracking engine runs (``detail`` is RE2's reason)."""

    reason: Reason
    detail: str = ""


class PatternError(ValueError):
    def __init__(self, problem: PatternProblem) -> None:
        super().__init__(f"{problem.reason}: {problem.detail}")
        self.problem = problem


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # refusals are answered to the admin, not logged by RE2
    options.never_capture = True  # a yes or no is all we ask: no submatch work
    return options


_OPTIONS = _options()


@lru_cache(maxsize=256)  # each program may keep up to RE2's max_mem (8 MiB) of DFA cache
def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program for ``pattern``; ``PatternError`` if it has none."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(PatternProblem("too_long"))
    try:
        compiled = re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        detail = _text(error)
        reason = "too_complex" if "too large" in detail else _reason(pattern)
        raise PatternError(PatternProblem(reason, detail)) from error
    if compiled.programsize > MAX_PROGRAM_SIZE:
        raise PatternError(PatternProblem("too_complex", f"{compiled.programsize} instructions"))
    return compiled


def _text(error: Exception) -> str:
    reason = error.args[0] if error.args else ""
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _reason(pattern: str) -> Reason:
    # Compiled only, never run: tells "needs backtracking" from "not a regex at all".
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return "invalid"
    return "unsupported"


def pattern_problem(pattern: str) -> PatternProblem | None:
    try:
        compile_pattern(pattern)
    except PatternError as error:
        return error.problem
    return None


def matches(pattern: str, text: str) -> bool:
    """JSON Schema's ``pattern``: found anywhere in ``text`` (not anchored)."""
    return compile_pattern(pattern).search(_utf8(text)) is not None


def _utf8(text: str) -> bytes:
    # Bytes skip the wrapper's mapping of match offsets back to str positions (a third
    # of the cost on a short value); a lone surrogate (JSON allows "\ud800") stays one
    # unmatchable character instead of raising.
    return text.encode("utf-8", "surrogatepass")


# --- jsonschema keywords ----------------------------------------------------------------


def _pattern(validator: Any, pattern: str, instance: object, schema: object) -> Iterator[Any]:
    if not validator.is_type(instance, "string"):
        return
    try:
        found = matches(pattern, str(instance))
    except PatternError:
        # Stored before RE2 (a look-ahead, say): fail closed rather than crash the form.
        found = False
    if not found:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _keys_matching(pattern: str, instance: Mapping[str, Any]) -> list[str]:
    try:
        compiled = compile_pattern(pattern)
    except PatternError:
        return []
    return [key for key in instance if compiled.search(_utf8(str(key))) is not None]


def _pattern_properties(
    validator: Any, declared: Mapping[str, Any], instance: object, schema: object
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    assert isinstance(instance, Mapping)
    for pattern, subschema in declared.items():
        for key in _keys_matching(pattern, instance):
            yield from validator.descend(instance[key], subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: object, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    assert isinstance(instance, Mapping)
    known = schema.get("properties", {})
    matched = {k for p in schema.get("patternProperties", {}) for k in _keys_matching(p, instance)}
    extras = [key for key in instance if key not in known and key not in matched]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif additional is False and extras:
        listed = ", ".join(repr(e) for e in sorted(extras, key=str))
        yield ValidationError(f"Additional properties are not allowed ({listed} unexpected)")


def _checks_regex(instance: object) -> bool:
    if isinstance(instance, str):
        compile_pattern(instance)
    return True


def _format_checker() -> Any:
    checker = FormatChecker()  # every format jsonschema knows, on this instance only
    checker.checks("regex", raises=PatternError)(_checks_regex)
    return checker


FORMAT_CHECKER: Any = _format_checker()
"""jsonschema's format checks, with ``"format": "regex"`` compiled by RE2."""

Validator: Any = validators.extend(
    Draft202012Validator,
    validators={
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    },
    format_checker=FORMAT_CHECKER,
)
"""Draft 2020-12 validation whose regular expressions all run with RE2."""

META_VALIDATOR: Any = Validator(Validator.META_SCHEMA, format_checker=FORMAT_CHECKER)
"""Checks a schema against the draft 2020-12 metaschema (its patterns compiled by RE2)."""
