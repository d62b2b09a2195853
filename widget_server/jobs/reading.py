"""Reading an import file, line by line, with every problem named by line, field and
message id.

One record per line in both formats: CSV (a header line naming the columns, then one
user per line; a value may not hold a line break) and JSON Lines (one object per line).
Lines are read with a bound (``MAX_LINE``), so a 100 MB line costs one line's bound of
memory and one ``import.line_too_long``; bytes that are not UTF-8 are
``import.encoding`` for that line alone.

Columns (CSV) and keys (JSON Lines): ``email`` (required), ``status`` (``new``, the
default, or ``active``), ``password_hash`` (a self-describing hash,
``passwords/imported.py``), ``payload`` and ``metadata`` (JSON objects), and
``payload.<field>`` / ``metadata.<field>`` for one field each. CSV values are typed by
the schema (integers, numbers, booleans; arrays and objects as JSON); an empty cell is
no value. The names are those of an export, so an export imports again.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from widget_server.forms.schema import properties
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView

Format = Literal["csv", "jsonl"]
#: Longest line read, in bytes; longer ones are reported and skipped.
MAX_LINE = 64 * 1024
_SKIP = 64 * 1024
FIELDS = ("email", "status", "password_hash", "payload", "metadata")


@dataclass(frozen=True)
class Problem:
    line: int
    field: str | None
    message: Msg

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "field": self.field,
            "id": self.message.id,
            "params": self.message.params,
        }


@dataclass(frozen=True)
class Record:
    """One line's user, as read (not yet checked against the pool)."""

    line: int
    data: dict[str, Any]


class HeaderError(Exception):
    """The file cannot be read at all: no usable header line."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems)
        self.problems = list(problems)


def lines(file: BinaryIO, start_line: int = 0) -> Iterator[tuple[int, bytes | None, int]]:
    """``(line number, bytes without the line break or None if too long, offset after
    it)`` from the file's current position; numbers count from ``start_line + 1``."""
    number = start_line
    while True:
        raw = file.readline(MAX_LINE + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while (rest := file.readline(_SKIP)) and not rest.endswith(b"\n"):
                pass
            yield number, None, file.tell()
            continue
        yield number, raw.rstrip(b"\r\n"), file.tell()


def decode(number: int, raw: bytes | None) -> tuple[str | None, Problem | None]:
    if raw is None:
        return None, Problem(number, None, msg("import.line_too_long", max=MAX_LINE))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None, Problem(number, None, msg("import.encoding"))
    return (text[1:] if number == 1 and text.startswith("\ufeff") else text), None


def header(pool: PoolView, number: int, raw: bytes | None) -> list[str]:
    """The CSV header's columns; ``HeaderError`` when it is missing or names columns
    this pool's import does not take (nothing can be read safely then)."""
    text, problem = decode(number, raw)
    if problem is not None or text is None:
        raise HeaderError([problem or Problem(number, None, msg("import.header_missing"))])
    try:
        names = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        names = []
    names = [n.strip() for n in names]
    if "email" not in names:
        raise HeaderError([Problem(number, None, msg("import.header_missing"))])
    found: list[Problem] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            found.append(
                Problem(number, name[:100], msg("import.duplicate_column", column=name[:100]))
            )
        seen.add(name)
        if not known_column(pool, name):
            found.append(
                Problem(number, name[:100], msg("import.unknown_column", column=name[:100]))
            )
    if found:
        raise HeaderError(found)
    return names


def known_column(pool: PoolView, name: str) -> bool:
    if name in FIELDS:
        return True
    document, _, field = name.partition(".")
    if document == "payload":
        return field in properties(pool.schema)
    if document == "metadata":
        meta = pool.metadata_schema
        return bool(field) and (meta is None or not properties(meta) or field in properties(meta))
    return False


def csv_record(pool: PoolView, names: Sequence[str], number: int, text: str) -> Record | Problem:
    try:
        cells = next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration) as exc:
        return Problem(number, None, msg("import.csv_malformed", detail=str(exc)[:100]))
    if len(cells) != len(names):
        return Problem(number, None, msg("import.cells", found=len(cells), expected=len(names)))
    data: dict[str, Any] = {"payload": {}, "metadata": {}}
    for name, cell in zip(names, cells, strict=True):
        if cell == "":
            continue
        document, _, field = name.partition(".")
        if not field:
            data[name] = _json_cell(cell) if name in ("payload", "metadata") else cell
            continue
        schema = pool.schema if document == "payload" else (pool.metadata_schema or {})
        data[document][field] = typed(properties(schema).get(field, {}), cell)
    return Record(number, data)


def jsonl_record(pool: PoolView, number: int, text: str) -> Record | Problem:
    try:
        value = json.loads(text)
    except ValueError as exc:
        return Problem(number, None, msg("import.json_malformed", detail=str(exc)[:100]))
    if not isinstance(value, dict):
        return Problem(number, None, msg("import.json_malformed", detail="not an object"))
    unknown = [k for k in value if k not in FIELDS]
    if unknown:
        return Problem(
            number, unknown[0][:100], msg("import.unknown_column", column=unknown[0][:100])
        )
    return Record(number, {"payload": {}, "metadata": {}} | value)


def typed(prop: Mapping[str, Any], cell: str) -> Any:
    """A CSV cell as the schema's type; left as text when it is not one (the schema's
    validation then names the field)."""
    kind = prop.get("type")
    try:
        if kind == "integer":
            return int(cell)
        if kind == "number":
            return float(cell)
        if kind == "boolean" and cell.lower() in ("true", "false", "1", "0", "yes", "no"):
            return cell.lower() in ("true", "1", "yes")
        if kind in ("array", "object"):
            return json.loads(cell)
    except ValueError:
        return cell
    return cell


def _json_cell(cell: str) -> Any:
    try:
        return json.loads(cell)
    except ValueError:
        return cell
