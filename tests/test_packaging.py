"""The wheel carries everything the server reads at run time: templates, static files,
themes, snippets, migrations, built-in schemas and the password list.

Builds a real wheel (a few seconds): ``pip wheel --no-build-isolation`` with the venv's
hatchling, so it works offline."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = [
    "widget_server/_assets/widgets/layout.html",
    "widget_server/_assets/widgets/flows/registration_card.html",
    "widget_server/_assets/widgets/emails/layout.txt",
    "widget_server/_assets/static/htmx-2.0.11.min.js",
    "widget_server/_assets/static/embed.js",
    "widget_server/_assets/static/widget.css",
    "widget_server/_assets/themes/default.json",
    "widget_server/_assets/embed-snippets/script-tag.html",
    "widget_server/_assets/embed-snippets/iframe.html",
    "widget_server/migrations/env.py",
    "widget_server/migrations/script.py.mako",
    "widget_server/passwords/common-passwords.txt.gz",
]
REQUIRED_GLOBS = [
    "widget_server/migrations/versions/*.py",
    "widget_server/builtin_schemas/*.json",
]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=180,
    )
    [wheel] = out.glob("widget_server-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


@pytest.mark.parametrize("name", REQUIRED)
def test_the_wheel_contains(wheel_names: list[str], name: str):
    assert name in wheel_names


@pytest.mark.parametrize("pattern", REQUIRED_GLOBS)
def test_the_wheel_contains_every(wheel_names: list[str], pattern: str):
    folder = pattern.rsplit("/", 1)[0]
    source = {
        "widget_server/migrations/versions": ROOT / "widget_server/migrations/versions",
        "widget_server/builtin_schemas": ROOT / "widget_server/builtin_schemas",
    }[folder]
    expected = {f"{folder}/{p.name}" for p in source.glob(pattern.rsplit("/", 1)[1])}
    assert expected
    assert expected <= set(fnmatch.filter(wheel_names, pattern))


def test_every_asset_folder_is_complete_in_the_wheel(wheel_names: list[str]):
    for folder in ("widgets", "static", "themes", "embed-snippets"):
        on_disk = {
            str(p.relative_to(ROOT / folder)) for p in (ROOT / folder).rglob("*") if p.is_file()
        }
        packed = {
            n.removeprefix(f"widget_server/_assets/{folder}/") for n in wheel_names
            if n.startswith(f"widget_server/_assets/{folder}/")
        }
        assert on_disk <= packed, (folder, on_disk - packed)


def test_no_tests_or_local_data_in_the_wheel(wheel_names: list[str]):
    assert not [n for n in wheel_names if n.startswith(("tests/", "e2e/", "bench/", ".data/"))]
    assert not [n for n in wheel_names if "__pycache__" in n or n.endswith((".pyc", ".db"))]
