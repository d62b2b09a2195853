"""axe-core checks inside the widget's iframe. The engine is the copy bundled with the
``axe-playwright-python`` package (no network): injected into the frame and run there,
as a cross-site iframe's document cannot be reached from the partner page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import axe_playwright_python
from playwright.sync_api import Frame

AXE_SOURCE = (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def violations(frame: Frame, *rules: str) -> list[dict[str, Any]]:
    """axe's violations in ``frame`` (only ``rules`` when given), each with its nodes'
    targets and summaries, for an assertion message that says what to fix."""
    if not frame.evaluate("() => typeof window.axe !== 'undefined'"):
        frame.evaluate(AXE_SOURCE)
    options = {"runOnly": {"type": "rule", "values": list(rules)}} if rules else {}
    found: list[dict[str, Any]] = frame.evaluate(
        """async (options) => (await axe.run(document, options)).violations.map(v => ({
            id: v.id,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
        }))""",
        options,
    )
    return found
