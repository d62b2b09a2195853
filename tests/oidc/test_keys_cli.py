"""Operators rotate and retire signing keys from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from widget_server.cli import main


def keys(capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, str]:
    main(["signing-keys", *flags])
    lines = capsys.readouterr().out.strip().splitlines()
    return {line.split()[0]: line.split()[-1] for line in lines}


def test_rotate_then_retire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIDGET_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("WIDGET_SECRET_KEY", "cli-test-key")
    (first,) = keys(capsys, "--create")  # a new database
    main(["rotate-signing-key"])
    assert "signs from" in capsys.readouterr().out
    listed = keys(capsys)
    # The new key is published now and signs once every cached JWKS has it.
    (second,) = [kid for kid, state in listed.items() if state == "pending"]
    assert listed == {second: "pending", first: "active"}
    with pytest.raises(SystemExit):
        main(["retire-signing-key", second])  # the newest key cannot be retired
    main(["retire-signing-key", first])  # a leaked key: the new one takes over at once
    capsys.readouterr()
    assert keys(capsys) == {second: "active", first: "retired"}
