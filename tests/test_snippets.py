"""The copy-paste snippets: only the two documented placeholders, every URL they point at
exists on the server, and the demo's filled-in snippet has no placeholder left."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PARTNER, Harness
from widget_server.assets import asset_dir
from widget_server.demo.partner import snippet

SNIPPETS = asset_dir("embed-snippets")
FILES = sorted(p.name for p in SNIPPETS.iterdir() if p.is_file())
PLACEHOLDERS = {"WIDGET_ORIGIN", "POOL_ID"}
# A path after the widget origin, as a placeholder ({{WIDGET_ORIGIN}}) or as the JS
# constant react.jsx keeps it in (${WIDGET_ORIGIN}); it ends before a query or fragment.
_URL = re.compile(r"(?:\{\{WIDGET_ORIGIN\}\}|\$\{WIDGET_ORIGIN\})(/[^\s\"'`<>()?#]*)")
POOL = "partner-1"


def referenced_paths() -> list[tuple[str, str]]:
    found = set()
    for name in FILES:
        for path in _URL.findall((SNIPPETS / name).read_text()):
            found.add((name, path.rstrip(".,;:")))
    return sorted(found)


def test_there_are_snippets():
    assert {"iframe.html", "script-tag.html", "react.jsx"} <= set(FILES)


@pytest.mark.parametrize("name", FILES)
def test_only_the_documented_placeholders(name: str):
    text = (SNIPPETS / name).read_text()
    used = set(re.findall(r"\{\{\s*([^}]*?)\s*\}\}", text))
    assert used <= PLACEHOLDERS, used - PLACEHOLDERS
    # Nothing that looks like another templating syntax slipped in either.
    assert "{%" not in text and "{#" not in text


def test_every_snippet_file_points_at_the_server():
    assert {name for name, _ in referenced_paths()} >= {"iframe.html", "script-tag.html",
                                                        "react.jsx"}
    assert ("script-tag.html", "/static/embed.js") in referenced_paths()
    assert ("iframe.html", "/embed/{{POOL_ID}}/register") in referenced_paths()


async def test_every_referenced_path_answers_200(harness: Harness):
    checked = 0
    for name, path in referenced_paths():
        response = await harness.client.get(path.replace("{{POOL_ID}}", POOL))
        assert response.status_code == 200, f"{name} references {path}"
        checked += 1
    assert checked >= 4


async def test_the_iframe_snippet_page_can_be_framed_by_the_partner(harness: Harness):
    iframe = (SNIPPETS / "iframe.html").read_text()
    [src] = re.findall(r'src="\{\{WIDGET_ORIGIN\}\}([^"]+)"', iframe)
    response = await harness.client.get(src.replace("{{POOL_ID}}", POOL),
                                        headers={"Referer": f"{PARTNER}/signup"})
    assert response.status_code == 200
    assert f"frame-ancestors {PARTNER}" in response.headers["content-security-policy"]
    assert f'<meta name="ws-parent-origin" content="{PARTNER}">' in response.text


@pytest.mark.parametrize("name", FILES)
def test_the_demo_snippet_has_no_placeholder_left(name: str):
    text = snippet("https://id.example.test", "business-1", name)
    assert "{{" not in text and "}}" not in text
    assert "https://id.example.test" in text


def test_the_default_demo_snippet_is_the_script_tag():
    text = snippet("http://localhost:8000", POOL)
    assert 'src="http://localhost:8000/static/embed.js"' in text
    assert f'data-pool="{POOL}"' in text
