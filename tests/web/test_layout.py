"""The HTTP layer is one package per audience: each has a README line and a ``router()``,
and no surface imports another (what they share lives in ``web/shared``)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from litestar import Router

import widget_server.web

WEB = Path(widget_server.web.__file__).parent
SURFACES = (
    "widget",
    "account",
    "portal",
    "studio",
    "api",
    "oauth",
    "dev",
    "ops",
    "assets",
    "developers",
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("surface", SURFACES)
def test_surface_has_readme_and_router(surface: str) -> None:
    readme = WEB / surface / "README.md"
    assert readme.read_text().startswith(f"# web/{surface} — ")
    module = importlib.import_module(f"widget_server.web.{surface}")
    assert isinstance(module.router(), Router)


@pytest.mark.parametrize("surface", SURFACES)
def test_surface_imports_no_other_surface(surface: str) -> None:
    others = {f"widget_server.web.{s}" for s in SURFACES if s != surface}
    for path in (WEB / surface).glob("*.py"):
        crossing = {
            m for m in _imports(path) if any(m == o or m.startswith(o + ".") for o in others)
        }
        assert not crossing, f"{path.name} imports {crossing}"


def test_shared_imports_no_surface() -> None:
    surfaces = {f"widget_server.web.{s}" for s in SURFACES}
    for path in (WEB / "shared").glob("*.py"):
        crossing = {m for m in _imports(path) if any(m.startswith(s) for s in surfaces)}
        assert not crossing, f"shared/{path.name} imports {crossing}"


def test_no_module_cites_a_file_outside_the_repo() -> None:
    package = WEB.parent
    for path in package.rglob("*.py"):
        assert "DESIGN.md" not in path.read_text(), path


@pytest.mark.parametrize("pool", ["no-such-pool", "x" * 65])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", "register"),
        ("POST", "register"),
        ("GET", "login"),
        ("POST", "login/mfa"),
        ("GET", "recover"),
        ("GET", "account"),
        ("POST", "account/profile"),
        ("GET", "theme.css"),
    ],
)
async def test_an_unknown_pool_is_the_not_found_page_on_every_route(harness, pool, method, suffix):
    # One router-level dependency finds the pool; one exception handler answers its absence.
    response = await harness.client.request(method, f"/embed/{pool}/{suffix}")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert 'data-message-id="pool.not_found"' in response.text
