"""Where templates, themes and static files live, in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """Return the directory holding asset folder ``name`` (``widgets``, ``themes``, ``static``...).

    A wheel carries the folders inside the package (``_assets/``); a source checkout keeps
    them beside the package, where the design places them.
    """
    for candidate in (_PACKAGE / "_assets" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"asset folder {name!r} not found next to {_PACKAGE}")
