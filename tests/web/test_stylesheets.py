"""Every stylesheet we serve parses cleanly as CSS, with every style rule at the top level
or directly inside an at-rule (``@media``): a block left open (a lost ``}``) does not
fail in the browser, it nests the rest of the file under the open rule (CSS closes it at
the end of the file), and everything after it stops applying."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tinycss2

STATIC = Path(__file__).resolve().parents[2] / "static"
SHEETS = sorted(STATIC.glob("*.css"))


def _style_rules(rules: list[Any]) -> Iterator[Any]:
    """Style rules, also those inside at-rules' blocks."""
    for rule in rules:
        if rule.type == "qualified-rule":
            yield rule
        elif rule.type == "at-rule" and rule.content is not None:
            inner = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            yield from _style_rules(inner)


def test_there_are_stylesheets() -> None:
    assert {p.name for p in SHEETS} >= {"admin.css", "widget.css", "account.css"}


@pytest.mark.parametrize("sheet", SHEETS, ids=lambda p: p.name)
def test_the_stylesheet_parses_without_errors_or_open_rules(sheet: Path) -> None:
    rules = tinycss2.parse_stylesheet(sheet.read_text(), skip_comments=True, skip_whitespace=True)
    errors = [f"{r.source_line}: {r.message}" for r in rules if r.type == "error"]
    assert errors == []
    for rule in _style_rules(rules):
        # A declaration block holds declarations; a rule inside one is a rule that was
        # never closed before the next selector.
        inner = tinycss2.parse_blocks_contents(rule.content, skip_comments=True)
        nested = [n for n in inner if n.type in ("qualified-rule", "at-rule")]
        assert nested == [], (
            f"{sheet.name}:{rule.source_line}: a rule is still open at line "
            f"{nested[0].source_line}"
        )
