"""Is a regular expression safe to run on user input? A static check on the parsed pattern.

jsonschema runs a schema's ``pattern`` with Python ``re``, a backtracking engine: a
pattern such as ``(a+)+$`` takes exponential time on ``"aaaa…!"``. Admins upload
schemas, so their patterns are checked before they are stored.

The check walks the tree ``re._parser`` builds (the parser ``re`` itself uses), not the
pattern text. Backtracking blows up when one string can be matched in many ways under a
repetition. We refuse, inside any repetition that can run more than once:

- a variable quantifier whose characters may also be what comes next in the loop, so
  the loop has two ways to split the same text: ``(a+)+``, ``(a*)*``, ``(\\w+\\s?)+``,
  ``(.*a){20}``. ``([^.]+\\.)+`` passes: the inner part cannot eat the ``.`` that ends it;
- alternatives that may start with the same character, or that may both match nothing:
  ``(a|a)*`` (which the parser turns into ``a(?:|)``), ``(ab|a.)+``.

Outside loops, overlapping variable parts in a row multiply the places the text can be
split: we allow at most two unbounded ones (``^[^@]+@\\S+\\.\\S+$``: n² steps, a million at
the form cap) and refuse a third (``^.*a.*a.*a$`` takes 2 s on 1000 characters) or a long
run of optional parts (``a?a?…a?aa…a``, exponential).

Character sets are compared on a finite sample of characters: ASCII, a few non-ASCII
letters, digits and spaces, and every literal and range bound the pattern names (two
ranges overlap exactly when one holds the other's lower bound). The check is
conservative: it may refuse a pattern that would have been fast, never the reverse for
the shapes above. What it allows is bounded because every value reaches the pattern
short: the form reader caps values at 1000 characters (``reading.HARD_CAP``) before
validation.
"""

from __future__ import annotations

import re
import re._constants as sre  # type: ignore[import-not-found]  # no stubs: private, but it is what re uses
import re._parser as sre_parse  # type: ignore[import-not-found]
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

MAX_PATTERN_LENGTH = 1000
"""Longer patterns are refused outright: nobody needs one to describe a form field."""

_UNBOUNDED = 100
"""A repetition with a larger maximum counts as unbounded."""
_MAX_WAYS = 10_000
"""Bounded nested repetitions are allowed while they can split a text at most this many ways."""
_INPUT_CAP = 1000
"""Longest value a pattern runs on (``reading.HARD_CAP``): the most places an unbounded part
can stop."""
_MAX_SEQUENCE_WAYS = _INPUT_CAP**2
"""Two overlapping unbounded parts in a row (``^\\S+\\.\\S+$``) cost a million steps at
most: milliseconds. A third, or a long run of optional parts, is refused."""

_SAMPLES = "\u00a0\u00e9\u00c9\u00df\u0436\u0416\u4e2d\u0663\u2028\u0130\u017f\u212a\U0001f600"
"""Non-ASCII characters that sit in different classes (letters of both cases, a decimal
digit that is not 0-9, spaces, case-folding oddities, an emoji)."""

Verdict = Literal["ok", "invalid", "too_long", "unsafe"]


@dataclass(frozen=True, slots=True)
class PatternCheck:
    verdict: Verdict
    detail: str = ""


def check_pattern(pattern: str) -> PatternCheck:
    """``ok``, or why the pattern is refused (``invalid`` carries the compiler's reason)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return PatternCheck("too_long")
    try:
        re.compile(pattern)
        parsed = sre_parse.parse(pattern)
        unsafe = _Walker(parsed).unsafe(parsed)
    except re.error as error:
        return PatternCheck("invalid", str(error))
    except RecursionError:
        # Groups nested hundreds deep: refusing is cheaper than reasoning about them.
        return PatternCheck("unsafe")
    return PatternCheck("unsafe") if unsafe else PatternCheck("ok")


Items = Sequence[tuple[Any, Any]]
Chars = frozenset[str]
Cont = tuple[Items, ...]


@dataclass(frozen=True, slots=True)
class _Loop:
    """The innermost repetition around a part: how many rounds, and what a round starts with."""

    rounds: int
    first: Chars


_NO_LOOP = _Loop(0, frozenset())


class _Walker:
    """Computes, for parsed items, the sample characters they can match and start with."""

    def __init__(self, parsed: sre_parse.SubPattern) -> None:
        flags = parsed.state.flags | _local_flags(parsed)
        # A local (?i:...) makes the whole pattern count as case-insensitive: cruder, safe.
        self.ignore_case = bool(flags & sre.SRE_FLAG_IGNORECASE)
        self.dot_all = bool(flags & sre.SRE_FLAG_DOTALL)
        named = {chr(c) for c in _literals_in(parsed)}
        universe = {chr(c) for c in range(128)} | set(_SAMPLES) | named
        universe |= {v for c in named for v in (c.lower(), c.upper()) if len(v) == 1}
        self.universe: Chars = frozenset(universe)
        # Results per parsed item, keyed by the identity of its (long-lived) argument:
        # nested groups would otherwise recompute their subtrees once per enclosing level.
        self._chars_memo: dict[tuple[Any, int, bool], Chars] = {}
        self._nullable_memo: dict[tuple[Any, int], bool] = {}

    # --- the verdict -------------------------------------------------------------------

    def unsafe(self, items: Items) -> bool:
        return self._walk(items, (), _NO_LOOP)

    def _walk(self, items: Items, cont: Cont, loop: _Loop) -> bool:
        """True if something in ``items`` is ambiguous inside ``loop``; ``cont`` is what
        follows ``items`` up to the end of the loop's body."""
        return any(
            self._item_unsafe(op, arg, (items[index + 1 :], *cont), loop)
            for index, (op, arg) in enumerate(items)
        )

    def _item_unsafe(self, op: Any, arg: Any, cont: Cont, loop: _Loop) -> bool:
        if op in _REPEATS:
            return self._repeat_unsafe(arg, cont, loop)
        if op is sre.SUBPATTERN:
            return self._walk(arg[3], cont, loop)
        if op is sre.ATOMIC_GROUP:
            # No backtracking into an atomic group, but its own loops may still explode.
            return self._walk(arg, (), _NO_LOOP)
        if op is sre.BRANCH:
            branches = arg[1]
            if loop.rounds > 1 and self._ambiguous(branches, self._follow(cont, loop)):
                return True
            return any(self._walk(b, cont, loop) for b in branches)
        if op is sre.GROUPREF_EXISTS:
            return any(self._walk(b, cont, loop) for b in arg[1:] if b)
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return self._walk(arg[1], (), _NO_LOOP)
        return False

    def _repeat_unsafe(self, arg: Any, cont: Cont, loop: _Loop) -> bool:
        low, high, body = arg
        if loop.rounds <= 1 and high > low:
            # Outside loops, overlapping variable parts in a row multiply their splits:
            # ``a?a?…a?aa…a`` is exponential, ``.*a.*a.*a`` cubic in the input's length.
            ways = _ways(low, high) * self._chain_ways(self.chars(body), cont)
            if ways > _MAX_SEQUENCE_WAYS:
                return True
        # Where can a variable part stop? If the text after it may be eaten by it, or by
        # the next round of the enclosing loop, one text splits in many ways.
        variable = loop.rounds > 1 and high > low and _many_ways(low, high, loop.rounds)
        if variable and self._shiftable(self.chars(body), cont, loop):
            return True
        if high <= 1:
            return self._walk(body, cont, loop)
        return self._walk(body, (), _Loop(high, self.first(body)))

    def _shiftable(self, eats: Chars, cont: Cont, loop: _Loop) -> bool:
        """Can a variable part that matches ``eats`` end in more than one place?

        Fixed single characters after it only shift with it; a character it cannot match
        is a barrier it cannot pass; a variable part it overlaps is a second way to split.
        """
        for items in cont:
            for op, arg in items:
                if op in _ZERO_WIDTH:
                    continue
                fixed = self._fixed_chars(op, arg)
                if fixed is not None:
                    if not fixed & eats:
                        return False
                    continue
                if self._item_chars(op, arg, first=True) & eats:
                    return True
                if not self._item_nullable(op, arg):
                    return False
        # The body's end: the next round starts here.
        return bool(loop.first & eats)

    def _chain_ways(self, eats: Chars, cont: Cont) -> int:
        """How many ways the variable parts after one that matches ``eats`` can split a
        text between them, up to the first barrier (as in ``_shiftable``)."""
        ways = 1
        for items in cont:
            for op, arg in items:
                if op in _ZERO_WIDTH:
                    continue
                fixed = self._fixed_chars(op, arg)
                if fixed is not None:
                    if not fixed & eats:
                        return ways
                    continue
                if self._item_chars(op, arg, first=False) & eats:
                    ways *= _ways(*arg[:2]) if op in _REPEATS else _INPUT_CAP
                    if ways > _MAX_SEQUENCE_WAYS:
                        return ways
                elif not self._item_nullable(op, arg):
                    return ways
        return ways

    def _fixed_chars(self, op: Any, arg: Any) -> Chars | None:
        """The characters of a part that always matches the same number of single characters."""
        if op in _SINGLE:
            return self._item_chars(op, arg, first=False)
        if op in _REPEATS and arg[0] == arg[1] and all(o in _SINGLE for o, _ in arg[2]):
            return self.chars(arg[2])
        return None

    def _follow(self, cont: Cont, loop: _Loop) -> Chars:
        found: set[str] = set()
        for items in cont:
            found |= self.first(items)
            if not self.nullable(items):
                return frozenset(found)
        return frozenset(found | loop.first)

    def _ambiguous(self, branches: Sequence[Items], follow: Chars) -> bool:
        """Alternatives that may both match nothing, or may start alike (an empty one
        starts with what follows it)."""
        if sum(1 for b in branches if self.nullable(b)) > 1:
            return True
        return _overlap(
            self.first(b) | (follow if self.nullable(b) else frozenset()) for b in branches
        )

    # --- what items match --------------------------------------------------------------

    def nullable(self, items: Items) -> bool:
        return all(self._item_nullable(op, arg) for op, arg in items)

    def _item_nullable(self, op: Any, arg: Any) -> bool:
        key = (op, id(arg))
        if key not in self._nullable_memo:
            self._nullable_memo[key] = self._compute_nullable(op, arg)
        return self._nullable_memo[key]

    def _compute_nullable(self, op: Any, arg: Any) -> bool:
        if op in _REPEATS:
            return arg[0] == 0 or self.nullable(arg[2])
        if op is sre.SUBPATTERN:
            return self.nullable(arg[3])
        if op is sre.ATOMIC_GROUP:
            return self.nullable(arg)
        if op is sre.BRANCH:
            return any(self.nullable(b) for b in arg[1])
        if op is sre.GROUPREF_EXISTS:
            return any(not b or self.nullable(b) for b in arg[1:])
        return op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT, sre.GROUPREF)

    def first(self, items: Items) -> Chars:
        """Characters a match of ``items`` may start with."""
        found: set[str] = set()
        for op, arg in items:
            found |= self._item_chars(op, arg, first=True)
            if not self._item_nullable(op, arg):
                break
        return frozenset(found)

    def chars(self, items: Items) -> Chars:
        """Characters a match of ``items`` may contain anywhere."""
        found: set[str] = set()
        for op, arg in items:
            found |= self._item_chars(op, arg, first=False)
        return frozenset(found)

    def _item_chars(self, op: Any, arg: Any, *, first: bool) -> Chars:
        key = (op, id(arg), first)
        if key not in self._chars_memo:
            self._chars_memo[key] = self._compute_chars(op, arg, first=first)
        return self._chars_memo[key]

    def _compute_chars(self, op: Any, arg: Any, *, first: bool) -> Chars:
        part = self.first if first else self.chars
        if op in _REPEATS:
            return part(arg[2])
        if op is sre.SUBPATTERN:
            return part(arg[3])
        if op is sre.ATOMIC_GROUP:
            return part(arg)
        if op in (sre.BRANCH, sre.GROUPREF_EXISTS):
            branches = arg[1] if op is sre.BRANCH else [b for b in arg[1:] if b]
            return frozenset().union(*(part(b) for b in branches))
        if op is sre.GROUPREF:
            return self.universe  # a back-reference repeats whatever its group matched
        if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
            return frozenset()
        return frozenset(c for c in self.universe if self._matches(op, arg, c))

    def _matches(self, op: Any, arg: Any, ch: str) -> bool:
        if op is sre.ANY:
            return self.dot_all or ch != "\n"
        if op is sre.LITERAL:
            return self._same(ch, arg)
        if op is sre.NOT_LITERAL:
            return not self._same(ch, arg)
        if op is sre.IN:
            return self._in_set(arg, ch)
        # Anything we do not model counts as matching everything: refuse rather than miss.
        return True

    def _in_set(self, items: Items, ch: str) -> bool:
        negate = bool(items) and items[0][0] is sre.NEGATE
        hit = any(self._set_item(op, arg, ch) for op, arg in items[1 if negate else 0 :])
        return hit != negate

    def _set_item(self, op: Any, arg: Any, ch: str) -> bool:
        if op is sre.LITERAL:
            return self._same(ch, arg)
        if op is sre.RANGE:
            low, high = arg
            return any(low <= ord(v) <= high for v in self._variants(ch))
        if op is sre.CATEGORY:
            return _category(arg, ch)
        return True

    def _same(self, ch: str, code: int) -> bool:
        return any(ord(v) == code for v in self._variants(ch))

    def _variants(self, ch: str) -> Iterable[str]:
        if not self.ignore_case:
            return (ch,)
        return {v for v in (ch, ch.lower(), ch.upper()) if len(v) == 1}


_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT})
_SINGLE = frozenset({sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN})
_ZERO_WIDTH = frozenset({sre.AT, sre.ASSERT, sre.ASSERT_NOT})

_CATEGORIES = {
    sre.CATEGORY_DIGIT: lambda ch: ch.isdecimal(),
    sre.CATEGORY_SPACE: lambda ch: ch.isspace(),
    sre.CATEGORY_WORD: lambda ch: ch.isalnum() or ch == "_",
    sre.CATEGORY_LINEBREAK: lambda ch: ch == "\n",
}
_NEGATED = {
    sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT,
    sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE,
    sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
    sre.CATEGORY_NOT_LINEBREAK: sre.CATEGORY_LINEBREAK,
}


def _category(category: Any, ch: str) -> bool:
    if category in _NEGATED:
        return not _CATEGORIES[_NEGATED[category]](ch)
    test = _CATEGORIES.get(category)
    return True if test is None else bool(test(ch))


def _many_ways(low: int, high: int, loop_max: int) -> bool:
    """Can a loop of ``loop_max`` rounds over a ``{low,high}`` part split text many ways?"""
    if loop_max > _UNBOUNDED or high > _UNBOUNDED:
        return True
    return bool((high - low + 1) ** loop_max > _MAX_WAYS)


def _ways(low: int, high: int) -> int:
    """The number of lengths a ``{low,high}`` part can take on a value of the form cap."""
    return min(high - low + 1, _INPUT_CAP)


def _overlap(sets: Iterable[Chars]) -> bool:
    seen: set[str] = set()
    for chars in sets:
        if seen & chars:
            return True
        seen |= chars
    return False


def _children(op: Any, arg: Any) -> list[Items]:
    """The item lists nested in one parsed item."""
    if op in _REPEATS:
        return [arg[2]]
    if op is sre.SUBPATTERN:
        return [arg[3]]
    if op in (sre.ATOMIC_GROUP, sre.IN):
        return [arg]
    if op is sre.BRANCH:
        return list(arg[1])
    if op is sre.GROUPREF_EXISTS:
        return [b for b in arg[1:] if b]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [arg[1]]
    return []


def _literals_in(items: Items) -> Iterable[int]:
    """Every literal code point and range bound in the parsed pattern."""
    for op, arg in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL):
            yield arg
        elif op is sre.RANGE:
            yield from arg
        for child in _children(op, arg):
            yield from _literals_in(child)


def _local_flags(items: Items) -> int:
    flags = 0
    for op, arg in items:
        if op is sre.SUBPATTERN:
            flags |= arg[1]
        for child in _children(op, arg):
            flags |= _local_flags(child)
    return flags
