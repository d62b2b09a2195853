"""A schema ``pattern`` as an HTML ``pattern`` attribute, when browsers read it alike.

The server matches schema patterns with RE2 (``regexes``); a browser compiles the
``pattern`` attribute as ECMAScript with the ``v`` flag, a stricter syntax: ``-``, ``(``,
``)``, ``{``, ``}``, ``/`` and ``|`` must be escaped inside a class (``[\\w-]`` is an error
there, and a browser silently drops a pattern it cannot compile), ``(?P<n>…)``, ``\\A``
and inline flags do not exist, and ``\\s`` means more spaces than RE2's ``[\\t\\n\\f\\r ]``.

``browser_pattern`` rewrites a pattern made of the common subset (literals, ``.``,
classes and ranges, ``\\d \\w \\s \\b`` and their negations, groups, alternation,
quantifiers, ``^ $``) into the ``v``-flag spelling of the same language, or answers
None: the form then has no client-side check and the server's stays. ``.`` keeps its
spelling: in a one-line input the engines differ only on U+2028 and U+2029.
"""

from __future__ import annotations

import re

from widget_server.forms.regexes import pattern_problem

_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
"""Characters escaped outside a class (ECMAScript's SyntaxCharacter and ``/``)."""
_CLASS_SYNTAX = frozenset("()[]{}/-\\|")
"""Characters the ``v`` flag forbids unescaped inside a class."""
_CLASS_DOUBLE = frozenset("&!#$%*+,.:;<=>?@^`~")
"""Characters the ``v`` flag reserves when doubled inside a class (``&&``, ``--`` …)."""
_SPACES = "\\t\\n\\f\\r "
"""RE2's ``\\s``."""
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")
_PLAIN_ESCAPES = frozenset("dDwWbBntfrv")
_CLASS_ESCAPES = frozenset("dDwWntfrv")


class _Unsupported(Exception):
    """Outside the subset both engines read alike."""


def browser_pattern(pattern: str) -> str | None:
    """The HTML ``pattern`` attribute (the browser anchors it at both ends) matching what
    JSON Schema's unanchored ``pattern`` matches, or None."""
    if not pattern or pattern_problem(pattern) is not None:
        return None
    try:
        body, alternation = _translate(pattern)
    except _Unsupported:
        return None
    anchored = body.startswith("^") and body.endswith("$") and not body.endswith("\\$")
    if anchored and not alternation:
        return body
    return f".*(?:{body}).*"


def _translate(pattern: str) -> tuple[str, bool]:
    """The ``v``-flag spelling, and whether ``|`` splits the whole pattern."""
    out: list[str] = []
    depth, alternation, index = 0, False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(_escape_outside(pattern, index))
            index += 2
            continue
        if char == "[":
            text, index = _class(pattern, index)
            out.append(text)
            continue
        if char == "(":
            text, index = _group_open(pattern, index)
            depth += 1
            out.append(text)
            continue
        if char == "{":
            quantifier = _QUANTIFIER.match(pattern, index)
            if quantifier is not None:
                out.append(quantifier.group())
                index = quantifier.end()
                continue
        if char == ")":
            depth -= 1
        if char == "|" and depth == 0:
            alternation = True
        if char in "()|*+?^$.":
            out.append(char)
        else:
            out.append(_literal(char))
        index += 1
    return "".join(out), alternation


def _escape_outside(pattern: str, index: int) -> str:
    if index + 1 >= len(pattern):
        raise _Unsupported
    char = pattern[index + 1]
    if char in _PLAIN_ESCAPES:
        return "\\" + char
    if char == "s":
        return f"[{_SPACES}]"
    if char == "S":
        return f"[^{_SPACES}]"
    if char == "A":
        return "^"
    if char == "z":
        return "$"
    if char.isascii() and not char.isalnum():
        return _literal(char)
    raise _Unsupported


def _literal(char: str) -> str:
    return "\\" + char if char in _SYNTAX else char


def _group_open(pattern: str, index: int) -> tuple[str, int]:
    if not pattern.startswith("(?", index):
        return "(", index + 1
    if pattern.startswith("(?:", index):
        return "(?:", index + 3
    named = re.compile(r"\(\?P?<\w+>").match(pattern, index)
    if named is not None:  # names do not matter to a yes-or-no match
        return "(", named.end()
    raise _Unsupported  # inline flags: (?i), (?s:…)


def _class(pattern: str, index: int) -> tuple[str, int]:
    """``[…]`` from ``index``: its ``v``-flag spelling and the index after it."""
    out = ["["]
    index += 1
    if pattern.startswith("^", index):
        out.append("^")
        index += 1
    first, previous = True, ""
    pending_end = after_range = False  # a "-" right after a range is a literal
    while index < len(pattern):
        char = pattern[index]
        if char == "]" and not first:
            out.append("]")
            return "".join(out), index + 1
        first = False
        if pattern.startswith("[:", index):
            raise _Unsupported  # POSIX classes
        starts_range = out[-1] not in ("[", "^") and not after_range
        if char == "-" and starts_range and not pattern.startswith("]", index + 1):
            out.append("-")  # a range (RE2 has checked both ends)
            previous, pending_end = "-", True
            index += 1
            continue
        after_range, pending_end = pending_end, False
        if char == "\\":
            text, literal = _escape_in_class(pattern, index)
            index += 2
        else:
            text, literal = char, char
            index += 1
        doubled = literal in _CLASS_DOUBLE and literal == previous
        if literal and (literal in _CLASS_SYNTAX or doubled):
            text = "\\" + literal
        out.append(text)
        previous = literal if text == literal else ""
    raise _Unsupported


def _escape_in_class(pattern: str, index: int) -> tuple[str, str]:
    """The spelling of an escape inside a class, and the literal character it stands for
    ("" for a class escape)."""
    if index + 1 >= len(pattern):
        raise _Unsupported
    char = pattern[index + 1]
    if char in _CLASS_ESCAPES:
        return "\\" + char, ""
    if char == "s":
        return _SPACES, ""
    if char.isascii() and not char.isalnum():
        return char, char
    raise _Unsupported  # \S inside a class, \p{…}, \x…, octal
