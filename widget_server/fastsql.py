"""Core statements compiled once, executed straight on the driver's cursor.

For the few statements of the hottest writes (the registration's completion and the
outbox), SQLAlchemy's per-execution bookkeeping (execution context, parameter
processing, result wrapping: ~25 µs a statement on the machines we measure on) cost
more than SQLite's own work. ``Prepared`` keeps what SQLAlchemy would do — the SQL its
compiler writes for the dialect, its bind processors (JSON, dates), the column's Python
defaults for keys not given, the literal values bound in the statement — and drops the
rest: each execution is one ``cursor.execute`` on the connection's driver connection, in
the transaction the ``Connection`` began.

Statements with server-side defaults, sequences, SQL-expression defaults or expanding
parameters (``IN`` lists) are refused when compiled: they need SQLAlchemy's execution
context.

Only SQLAlchemy's public API: the compiler's documented attributes (``positiontup``,
``binds``, ``insert_prefetch``, ``update_prefetch``, ``postfetch``), each type's
``dialect_impl(dialect).bind_processor(dialect)`` and the connection's
``dbapi_connection``. Still worth it against the public general path: on SQLite an
INSERT and a DELETE of a user row took ~95-100 us a statement here against ~145-195 us
through ``Connection.execute`` (the completion runs eight, under the one write lock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy import Column, Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ClauseElement
from sqlalchemy.types import TupleType

_Arg = Callable[[Mapping[str, Any]], Any]


class Prepared:
    """One statement; compiled per (dialect, parameter names) on first use."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._plans: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[_Arg, ...]]] = {}

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> DBAPICursor:
        """Run with ``params`` (by bind name) and return the driver's cursor."""
        key = (connection.dialect.name, tuple(params))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _plan(self.statement, connection.dialect, key[1])
        sql, args = plan
        dbapi = connection.connection.dbapi_connection
        assert dbapi is not None, "the connection was closed"
        cursor = dbapi.cursor()
        cursor.execute(sql, tuple(arg(params) for arg in args))
        return cursor

    def rowcount(self, connection: Connection, params: Mapping[str, Any]) -> int:
        cursor = self.execute(connection, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def first(self, connection: Connection, params: Mapping[str, Any]) -> Sequence[Any] | None:
        cursor = self.execute(connection, params)
        try:
            row = cursor.fetchone()
            return None if row is None else tuple(row)
        finally:
            cursor.close()

    def scalar(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        row = self.first(connection, params)
        return None if row is None else row[0]

    def run(self, connection: Connection, params: Mapping[str, Any]) -> None:
        self.execute(connection, params).close()


def _plan(
    statement: ClauseElement, dialect: Dialect, names: tuple[str, ...]
) -> tuple[str, tuple[_Arg, ...]]:
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    assert isinstance(compiled, SQLCompiler)
    if not dialect.positional or compiled.positiontup is None:
        raise NotImplementedError(f"{dialect.name}: only positional paramstyles are supported")
    if getattr(compiled, "postfetch", None):
        raise NotImplementedError("server-side defaults need SQLAlchemy's execution context")
    prefetch = (
        *getattr(compiled, "insert_prefetch", ()),
        *getattr(compiled, "update_prefetch", ()),
    )
    defaults = {column.key: column for column in prefetch}
    args: list[_Arg] = []
    for name in compiled.positiontup:
        value = _value(compiled, name, names, defaults)
        process = _bind_processor(compiled.binds[name], dialect)
        args.append(value if process is None else _processed(value, process))
    return compiled.string, tuple(args)


def _bind_processor(bound: BindParameter[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """What the dialect does to a Python value of the parameter's type before the driver
    gets it (JSON to text, our UTC datetimes to naive ones, ...), by the public type API:
    the dialect's implementation of the type, and its processor. (This replaced
    ``SQLCompiler._bind_processors``, a private attribute, with the same functions.)"""
    if bound.expanding or isinstance(bound.type, TupleType):
        raise NotImplementedError(f"parameter {bound.key!r} expands to several values")
    return bound.type.dialect_impl(dialect).bind_processor(dialect)


def _value(
    compiled: SQLCompiler, name: str, names: tuple[str, ...], defaults: Mapping[str, Any]
) -> _Arg:
    if name in names:
        return lambda params: params[name]
    column = defaults.get(name)
    if column is not None:
        make = python_default(column)
        if make is None:
            raise NotImplementedError(f"default of {name!r} needs SQLAlchemy's execution context")
        return lambda _params: make()
    bound = compiled.binds[name]
    if bound.required or bound.callable is not None:
        raise KeyError(f"parameter {name!r} was not given")
    literal = bound.value
    return lambda _params: literal


def python_default(column: Column[Any]) -> Callable[[], Any] | None:
    """A no-argument function giving ``column``'s Python-side default (a constant or a
    callable), or None when it has none of those (no default, or an SQL expression)."""
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        constant = default.arg  # type: ignore[attr-defined]
        return lambda: constant
    if default.is_callable:
        # SQLAlchemy wraps a no-argument default as f(context); ours take none.
        return partial(default.arg, None)  # type: ignore[attr-defined]
    return None


def _processed(value: _Arg, process: Callable[[Any], Any]) -> _Arg:
    return lambda params: process(value(params))
