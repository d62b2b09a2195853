"""Where jobs keep files: export results, uploaded import files and dry-run reports,
under ``Settings.jobs_dir``. Names are made here from job ids only, never from input."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from widget_server.settings import Settings

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(csv|jsonl|upload|errors\.jsonl)$")


def folder(settings: Settings) -> Path:
    path = settings.effective_jobs_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_of(settings: Settings, name: str) -> Path:
    """The file ``name`` (as a job recorded it); anything else is refused."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a job file name: {name!r}")
    return folder(settings) / name


def remove(settings: Settings, name: str | None) -> None:
    if name:
        with contextlib.suppress(FileNotFoundError, ValueError):
            path_of(settings, name).unlink()
