"""``fastsql.Prepared``: what SQLAlchemy would have sent, without its execution context,
and a clear refusal where that context would be needed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    select,
    text,
    update,
)

from widget_server.fastsql import Prepared
from widget_server.models import UtcDateTime

meta = MetaData()
things = Table(
    "things",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("state", String(10), nullable=False, default="new"),
    Column("data", JSON, nullable=False, default=dict),
    Column("at", DateTime),
)
stamped = Table(
    "stamped",
    meta,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime, server_default=func.current_timestamp()),
)

INSERT = Prepared(insert(things))
RENAME_NEW = Prepared(
    update(things).where(things.c.id == bindparam("b_id"), things.c.state == "new")
)
NAMES = Prepared(
    select(things.c.name, things.c.data, things.c.at).where(things.c.id == bindparam("b_id"))
)


def test_defaults_processors_literals_and_results() -> None:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    at = dt.datetime(2026, 11, 27, 12, 30)
    with engine.connect() as c, c.begin():
        INSERT.run(c, {"id": 1, "name": "a", "at": at})  # state and data from their defaults
        INSERT.run(c, {"id": 2, "name": "b", "state": "done", "data": {"k": [1]}, "at": None})
        # The same rows as SQLAlchemy itself would have written them.
        raw = c.execute(text("select id, state, data, at from things order by id")).all()
        assert [tuple(r) for r in raw] == [
            (1, "new", "{}", "2026-11-27 12:30:00.000000"),
            (2, "done", '{"k": [1]}', None),
        ]
        assert NAMES.first(c, {"b_id": 2}) == ("b", '{"k": [1]}', None)
        assert NAMES.first(c, {"b_id": 3}) is None
        assert NAMES.scalar(c, {"b_id": 1}) == "a"
        # The literal "new" in the WHERE clause is bound: only row 1 still matches.
        assert RENAME_NEW.rowcount(c, {"b_id": 1, "name": "a2"}) == 1
        assert RENAME_NEW.rowcount(c, {"b_id": 2, "name": "b2"}) == 0
        assert c.execute(select(things.c.name).order_by(things.c.id)).scalars().all() == ["a2", "b"]


def test_refuses_what_needs_the_execution_context() -> None:
    engine = create_engine("sqlite://")
    meta.create_all(engine)
    with engine.connect() as c, c.begin():
        with pytest.raises(NotImplementedError, match="server-side defaults"):
            Prepared(insert(stamped)).run(c, {"id": 1})
        with pytest.raises(KeyError, match="b_id"):
            RENAME_NEW.run(c, {"name": "x"})
        # An IN list is expanded per execution by SQLAlchemy's execution context.
        among = Prepared(select(things.c.id).where(things.c.id.in_(bindparam("ids"))))
        with pytest.raises(NotImplementedError, match="several values"):
            among.run(c, {"ids": [1, 2]})


def test_a_type_decorator_is_processed_as_sqlalchemy_would() -> None:
    # UtcDateTime (models.py), a TypeDecorator over DateTime(timezone=True): stored as
    # SQLAlchemy itself writes it; the processor comes from the public type API (the
    # dialect's implementation of the type), not from the compiler's private table.
    engine = create_engine("sqlite://")
    stamps = Table(
        "stamps", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime)
    )
    stamps.metadata.create_all(engine)
    at = dt.datetime(2026, 11, 27, 13, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with engine.connect() as c, c.begin():
        Prepared(insert(stamps)).run(c, {"id": 1, "at": at})
        c.execute(insert(stamps), {"id": 2, "at": at})
        raw = c.execute(text("select at from stamps order by id")).scalars().all()
        assert raw[0] == raw[1] == "2026-11-27 13:30:00.000000"
