"""Each escaper's literal, read back by the language's own parser, is the value itself,
for values built to break out: quotes, ``</script>``, backslashes, newlines, U+2028."""

from __future__ import annotations

import ast
import html
import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.developers.parsing import NODE, needs_node
from widget_server.developers.literals import (
    go_string,
    html_attr,
    js_string,
    py_string,
    url_part,
    url_query,
)

HOSTILE = [
    'double " quote',
    "single ' quote",
    "</script><script>alert(1)</script>",
    "<!-- <script>",
    "back\\slash\\",
    '\\" escaped quote',
    "new\nline\rand\ttab",
    "line\u2028separator\u2029paragraph",
    "${alert(1)}`backtick`",
    "*/ end of comment -->",
    "@@POOL_ID@@ {{ interpolation }} {svelte}",
    "nul\x00 bell\x07 del\x7f",
    "ü ß ☃ 😀 𝄞",
    "&amp; &lt; entity",
    "",
]
GO = shutil.which("go")


@needs_node
def test_js_literals_read_back_by_node(tmp_path: Path) -> None:
    literals = ",\n".join(js_string(v) for v in HOSTILE)
    script = tmp_path / "read.cjs"
    # Read back, then print as JSON with ASCII only: node's stdout must not re-encode.
    script.write_text(f"const values = [\n{literals}\n];\n"
                      "process.stdout.write(JSON.stringify(values).replace(/[\\u007f-\\uffff]/g,"
                      " (c) => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));")
    assert NODE is not None
    out = subprocess.run([NODE, str(script)], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    assert json.loads(out) == HOSTILE


@pytest.mark.parametrize("value", HOSTILE)
def test_js_literals_are_safe_inside_an_html_script_block(value: str) -> None:
    literal = js_string(value)
    for raw in ("<", ">", "&", "\n", "\r", "\u2028", "\u2029"):
        assert raw not in literal
    assert literal.isascii() and literal.startswith('"') and literal.endswith('"')


@pytest.mark.parametrize("value", HOSTILE)
def test_python_literals_read_back_by_python(value: str) -> None:
    literal = py_string(value)
    assert literal.isascii() and literal.startswith('"')
    assert ast.literal_eval(literal) == value
    # One string constant, whatever follows it on the line.
    tree = ast.parse(f"X = {literal}  # after")
    [assign] = tree.body
    assert isinstance(assign, ast.Assign) and ast.literal_eval(assign.value) == value


def test_a_lone_surrogate_stays_itself_in_python_and_is_replaced_in_go() -> None:
    assert ast.literal_eval(py_string("a\ud800b")) == "a\ud800b"
    assert go_string("a\ud800b") == '"a\\ufffdb"'


@pytest.mark.parametrize("value", HOSTILE)
def test_go_literals_use_escapes_python_reads_alike(value: str) -> None:
    # Every escape go_string writes (\" \\ \n \t \a \b \f \r \v \uXXXX \UXXXXXXXX) means
    # the same in Python: Python's parser is an independent reader of the literal.
    literal = go_string(value)
    assert literal.isascii()
    assert ast.literal_eval(literal) == value


@pytest.mark.skipif(GO is None, reason="go is not installed")
def test_go_literals_read_back_by_go(tmp_path: Path) -> None:
    assert GO is not None
    literals = "\n".join(f"\t\t{go_string(v)}," for v in HOSTILE)
    (tmp_path / "main.go").write_text(
        "package main\n\nimport (\n\t\"encoding/json\"\n\t\"os\"\n)\n\n"
        f"func main() {{\n\tvalues := []string{{\n{literals}\n\t}}\n"
        "\t_ = json.NewEncoder(os.Stdout).Encode(values)\n}\n"
    )
    result = subprocess.run([GO, "run", "main.go"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, check=False,
                            env={"GO111MODULE": "off", "HOME": str(tmp_path),
                                 "GOCACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == HOSTILE


@pytest.mark.parametrize("value", HOSTILE)
def test_html_attribute_values_cannot_close_the_attribute(value: str) -> None:
    escaped = html_attr(value)
    for raw in ('"', "'", "<", ">"):
        assert raw not in escaped
    assert html.unescape(escaped) == value


@pytest.mark.parametrize("value", HOSTILE)
def test_url_parts_stay_one_segment(value: str) -> None:
    part = url_part(value)
    assert not {"/", "?", "#", "&", " ", '"', "<"} & set(part)
    assert unquote(part) == value


def test_url_query_encodes_every_value() -> None:
    query = url_query({"locale": "de&x=1#y", "color_scheme": "dark"})
    assert query == "?locale=de%26x%3D1%23y&color_scheme=dark"
    assert url_query({}) == ""
