"""``Settings``: read once from ``WIDGET_*`` variables, strict about what it does not
know, never showing a secret, and generating the secret key once if none is given."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from pathlib import Path

import pytest

from widget_server.settings import Settings


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.secret_key == ""


def test_values_are_read_and_typed():
    settings = Settings.from_env({
        "WIDGET_DATABASE_URL": "postgresql+asyncpg://u@db/widget",
        "WIDGET_SMTP_PORT": "2525",
        "WIDGET_SMTP_STARTTLS": "yes",
        "WIDGET_OUTBOX_POLL_SECONDS": "0.5",
        "WIDGET_CODE_MAX_ATTEMPTS": "3",
        "WIDGET_PUBLIC_URL": "https://id.example.com",
        "PATH": "/usr/bin",  # not ours: ignored
        "OTHER_WIDGET_THING": "x",
    })
    assert settings.database_url == "postgresql+asyncpg://u@db/widget"
    assert settings.smtp_port == 2525 and isinstance(settings.smtp_port, int)
    assert settings.smtp_starttls is True
    assert settings.outbox_poll_seconds == 0.5
    assert settings.code_max_attempts == 3
    assert settings.public_url == "https://id.example.com"


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("yes", True), ("on", True),
    ("0", False), ("false", False), ("No", False), ("off", False), ("", False),
])
def test_booleans(raw: str, expected: bool):
    assert Settings.from_env({"WIDGET_SMTP_STARTTLS": raw}).smtp_starttls is expected


@pytest.mark.parametrize(("key", "raw"), [
    ("WIDGET_SMTP_STARTTLS", "maybe"),
    ("WIDGET_SMTP_STARTTLS", "2"),
    ("WIDGET_SMTP_PORT", "abc"),
    ("WIDGET_SMTP_PORT", "25.5"),
    ("WIDGET_SMTP_PORT", ""),
    ("WIDGET_OUTBOX_POLL_SECONDS", "soon"),
])
def test_unreadable_values_are_errors_naming_the_variable(key: str, raw: str):
    with pytest.raises(ValueError, match=key):
        Settings.from_env({key: raw})


def test_unknown_widget_variable_is_rejected():
    with pytest.raises(ValueError, match="WIDGET_SECRET_KYE"):
        Settings.from_env({"WIDGET_SECRET_KYE": "typo"})


def test_the_environment_is_read_only_when_asked(monkeypatch: pytest.MonkeyPatch):
    # Whatever WIDGET_ settings the shell running the tests has must not count here.
    for key in [k for k in os.environ if k.startswith("WIDGET_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WIDGET_SMTP_PORT", "2626")
    assert Settings().smtp_port == 1025  # constructing never reads the environment
    assert Settings.from_env().smtp_port == 2626


def test_settings_are_frozen():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.secret_key = "x"  # type: ignore[misc]


def test_secrets_are_masked_in_repr():
    settings = Settings.from_env({
        "WIDGET_SECRET_KEY": "s3cr3t-key-value",
        "WIDGET_SMTP_PASSWORD": "smtp-pa55word",
    })
    assert settings.secret_key == "s3cr3t-key-value"
    for text in (repr(settings), str(settings)):
        assert "s3cr3t-key-value" not in text
        assert "smtp-pa55word" not in text
    assert "smtp_host" in repr(settings)


def test_a_bad_value_error_does_not_echo_a_secret():
    with pytest.raises(ValueError) as caught:
        Settings.from_env({"WIDGET_SMTP_PORT": "hunter2"})
    # The one value shown is the unreadable one, which is not a secret field.
    assert "WIDGET_SMTP_PORT" in str(caught.value)


def test_with_secret_creates_a_private_key_file_once(tmp_path: Path):
    data_dir = tmp_path / "data"
    first = Settings().with_secret(data_dir)
    key_file = data_dir / "secret.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(first.secret_key) >= 32
    assert key_file.read_text().strip() == first.secret_key
    mtime = key_file.stat().st_mtime_ns

    second = Settings().with_secret(data_dir)
    assert second.secret_key == first.secret_key
    assert key_file.stat().st_mtime_ns == mtime

    other = Settings().with_secret(tmp_path / "elsewhere")
    assert other.secret_key != first.secret_key


def test_with_secret_keeps_a_configured_key_and_writes_nothing(tmp_path: Path):
    settings = Settings(secret_key="given")
    assert settings.with_secret(tmp_path) is settings
    assert not (tmp_path / "secret.key").exists()


def test_with_secret_without_create_reads_a_key_but_never_writes_one(tmp_path: Path):
    data_dir = tmp_path / "data"
    assert Settings().with_secret(data_dir, create=False).secret_key == ""
    assert not data_dir.exists()  # a CLI run in the wrong folder leaves nothing behind
    made = Settings().with_secret(data_dir)
    assert Settings().with_secret(data_dir, create=False).secret_key == made.secret_key


_WATCH: list[Path] = []
_EXPOSED: list[str] = []


def _audit(event: str, args: tuple[object, ...]) -> None:
    """Before any file operation on a watched path: is the secret already on disk for
    anyone to read? (Audit hooks run before the operation and cannot be removed, so this
    one does nothing unless a test is watching.)"""
    if not _WATCH or event not in {"open", "os.chmod", "os.rename", "os.replace"}:
        return
    for path in _WATCH:
        try:
            info = path.stat()
        except OSError:
            continue
        if info.st_size and stat.S_IMODE(info.st_mode) & 0o077:
            _EXPOSED.append(f"{event}: mode {stat.S_IMODE(info.st_mode):o}")


sys.addaudithook(_audit)


def test_the_key_file_is_never_readable_by_others_even_briefly(tmp_path: Path):
    old = os.umask(0o022)
    _WATCH.append(tmp_path / "secret.key")
    _EXPOSED.clear()
    try:
        Settings().with_secret(tmp_path)
        # One more audited operation on the path, so a write-then-chmod is observed even
        # if chmod itself were not audited.
        (tmp_path / "secret.key").open().close()
    finally:
        _WATCH.clear()
        os.umask(old)
    assert _EXPOSED == []
