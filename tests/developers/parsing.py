"""Real parsers for generated code: node for JavaScript, the stdlib for HTML and Python,
gofmt for Go when it is installed.

What has no parser here, and what stands in for it:

- JSX (React, Next.js): the one JSX element a component returns is replaced by ``null``,
  and node parses the rest as a module (no JSX parser installs offline with the
  project's tools; the element is fixed text, so nothing of a request's values is lost).
- Vue and Svelte files: their ``<script>`` blocks are extracted and parsed by node
  together, as the one module the compilers make of them; the markup is fixed text.
- Angular (TypeScript): node cannot read types or decorators, so the block that holds
  every request value (the constants) is parsed with its two type annotations removed,
  and the rest is checked by structure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

NODE = shutil.which("node")
GOFMT = shutil.which("gofmt")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")

JSX_ELEMENT = "<div ref={ref} />"


def node_check(code: str, tmp_path: Path, *, module: bool) -> None:
    """``node --check`` (parse only) of the code, as an ES module or a classic script."""
    assert NODE is not None
    path = tmp_path / ("snippet.mjs" if module else "snippet.cjs")
    path.write_text(code)
    result = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr + "\n" + code


def gofmt_clean(code: str, tmp_path: Path) -> None:
    """gofmt parses the file and finds nothing to reformat."""
    assert GOFMT is not None
    path = tmp_path / "snippet.go"
    path.write_text(code)
    result = subprocess.run([GOFMT, "-l", str(path)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", f"gofmt would reformat:\n{code}"


def jsx_as_js(code: str) -> str:
    # Any other JSX left in the code fails node's parse.
    assert code.count(JSX_ELEMENT) == 1
    return code.replace(JSX_ELEMENT, "null")


_BLOCK = re.compile(r"^<script(?: (?:setup|module))?>\n(.*?)^</script>$", re.S | re.M)


def script_blocks(code: str) -> list[str]:
    return _BLOCK.findall(code)


def markup(code: str) -> str:
    """A component file without its comments and script blocks."""
    without_scripts = _BLOCK.sub("", code)
    return re.sub(r"<!--.*?-->", "", without_scripts, flags=re.S).strip()


def angular_constants(code: str) -> str:
    """The constants block of the Angular component as plain JS."""
    match = re.search(r"^const WIDGET_ORIGIN = .*?^const EVENTS = .*?;$", code, re.S | re.M)
    assert match is not None
    block = match.group(0)
    assert block.count(": Record<string, string>") == 1 and block.count(" as const;") == 1
    return block.replace(": Record<string, string>", "").replace(" as const;", ";")


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.text = tag, attrs, ""


class Page(HTMLParser):
    """The elements of an HTML snippet, in order, with their attributes (entities
    decoded, as a browser reads them) and raw text; comments apart."""

    def __init__(self, code: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.comments: list[str] = []
        self._open: Element | None = None
        self.feed(code)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        assert len(element.attrs) == len(attrs), f"repeated attribute in <{tag}>"
        self.elements.append(element)
        self._open = element

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data
        else:
            assert not data.strip(), f"text outside any element: {data!r}"

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def tags(self) -> list[str]:
        return [e.tag for e in self.elements]
