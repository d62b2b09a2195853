"""A theme to and from one JSON file (branding/exchange.py), through the services and the
real CLI: files travel embedded with their hashes; nothing in an import is trusted."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.branding.conftest import DESIGNER, errors_of, new_theme, png, services
from tests.conftest import Harness
from widget_server.branding import assets, catalogue, exchange, publishing
from widget_server.branding.catalogue import DraftEdit
from widget_server.errors import InvalidInput


async def test_export_then_import_elsewhere_keeps_tokens_and_files(harness: Harness) -> None:
    svc = services(harness)
    logo = await assets.upload_asset(svc, DESIGNER, "logo.png", png(80, 20))
    theme = await new_theme(harness, copy_of="dark")
    tokens = {**theme.draft, "logo": {"text": "ACME", "asset": logo.sha256}}
    await catalogue.save_draft(svc, DESIGNER, theme.summary.id, DraftEdit(tokens=tokens))
    await publishing.publish_theme(svc, DESIGNER, theme.summary.id)

    document = await exchange.export_theme(svc, DESIGNER, theme.summary.id)
    parsed = json.loads(document)
    assert (parsed["format"], parsed["format_version"], parsed["version"]) == (
        "widget-server-theme",
        1,
        1,
    )
    assert parsed["tokens"] == tokens
    [embedded] = parsed["assets"]
    assert embedded["sha256"] == logo.sha256
    assert base64.b64decode(embedded["data"]) == png(80, 20)

    imported = await exchange.import_theme(svc, DESIGNER, document, publish=True)
    assert imported.assets == [logo.sha256]
    assert imported.theme.summary.id != theme.summary.id
    assert imported.theme.draft == tokens and imported.theme.published == tokens
    assert imported.published is not None and imported.published.version.number == 1

    again = await exchange.import_theme(svc, DESIGNER, document, into=theme.summary.id)
    assert again.theme.summary.id == theme.summary.id
    assert again.theme.summary.draft_revision == 3


async def test_builtins_export_as_a_starting_point(harness: Harness) -> None:
    document = json.loads(await exchange.export_theme(services(harness), DESIGNER, "forest"))
    assert document["base"] == "forest" and document["version"] is None
    assert document["tokens"]["colors"]["primary"] == "#2f6f4f"


EVIL_SVG = b'<svg onload="x()"/>'


def embedded(data: bytes) -> dict[str, str]:
    """A file as an import carries it, with its true hash."""
    return {"data": base64.b64encode(data).decode(), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize(
    ("change", "message_id"),
    [
        (lambda d: d.update(format="something-else"), "brand.import_invalid"),
        (lambda d: d.update(extra=1), "brand.import_invalid"),
        (lambda d: d["assets"][0].update(data="!!!not base64!!!"), "brand.import_invalid"),
        (lambda d: d["assets"][0].update(sha256="0" * 64), "brand.import_hash"),
        (lambda d: d["assets"][0].update(embedded(EVIL_SVG)), "brand.svg_event_handler"),
    ],
)
async def test_an_import_trusts_nothing(harness: Harness, change: object, message_id: str) -> None:
    svc = services(harness)
    logo = await assets.upload_asset(svc, DESIGNER, "logo.png", png())
    theme = await new_theme(harness, tokens=None)
    draft = {**theme.draft, "logo": {"text": "x", "asset": logo.sha256}}
    await catalogue.save_draft(svc, DESIGNER, theme.summary.id, DraftEdit(tokens=draft))
    document = json.loads(await exchange.export_theme(svc, DESIGNER, theme.summary.id))
    change(document)  # type: ignore[operator]
    with pytest.raises(InvalidInput) as refused:
        await exchange.import_theme(svc, DESIGNER, json.dumps(document).encode())
    assert errors_of(refused.value) == {"file": [message_id]}


async def test_an_import_with_bad_tokens_names_them(harness: Harness) -> None:
    document = json.loads(await exchange.export_theme(services(harness), DESIGNER, "default"))
    document["tokens"]["colors"]["primary"] = "url(https://evil.example/x)"
    with pytest.raises(InvalidInput) as refused:
        await exchange.import_theme(services(harness), DESIGNER, json.dumps(document).encode())
    assert errors_of(refused.value) == {"colors.primary": ["brand.invalid_token"]}


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env["WIDGET_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    env["WIDGET_SECRET_KEY"] = "cli-test-key"
    return subprocess.run(
        [sys.executable, "-m", "widget_server.cli", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )


def test_the_cli_exports_imports_publishes_and_manages_workspaces(tmp_path: Path) -> None:
    assert cli(tmp_path, "seed-demo").returncode == 0
    listed = cli(tmp_path, "theme", "list")
    assert listed.returncode == 0, listed.stderr
    assert "acme-partners\tACME Partners\tlive v1" in listed.stdout

    exported = cli(tmp_path, "theme", "export", "acme-partners")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["name"] == "ACME Partners"
    document["name"] = "ACME Partners (from git)"
    document["tokens"]["colors"]["primary"] = "#1d4ed8"
    (tmp_path / "acme.json").write_text(json.dumps(document))

    imported = cli(tmp_path, "theme", "import", "acme.json", "--publish")
    assert imported.returncode == 0, imported.stderr
    assert "live as version 1" in imported.stdout
    theme_id = imported.stdout.split()[1]

    spaces = cli(tmp_path, "workspace", "list")
    partners = next(
        line.split("\t")[0] for line in spaces.stdout.splitlines() if "\tPartners\t" in line
    )
    assigned = cli(tmp_path, "theme", "assign", theme_id, "--to", f"workspace:{partners}")
    assert assigned.returncode == 0, assigned.stderr
    assert "3 pools changed" in assigned.stdout

    made = cli(
        tmp_path,
        *("workspace", "from-template", "Retail", "--template", "ecommerce"),
        *("--pool", "shop-eu=Shop EU"),
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["workspace"]["pool_ids"] == ["shop-eu"]

    document["tokens"]["colors"]["muted"] = "#cccccc"
    (tmp_path / "grey.json").write_text(json.dumps(document))
    refused = cli(tmp_path, "theme", "import", "grey.json", "--into", theme_id, "--publish")
    assert refused.returncode != 0
    assert "light.muted" in refused.stderr and "--accept-contrast-failures" in refused.stderr
    forced = cli(
        tmp_path,
        *("theme", "import", "grey.json", "--into", theme_id),
        *("--publish", "--accept-contrast-failures"),
    )
    assert forced.returncode == 0, forced.stderr
    bad = cli(tmp_path, "workspace", "delete", partners)
    assert bad.returncode != 0 and "still holds" in bad.stderr
