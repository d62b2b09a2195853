"""Searching a pool's users at a million rows: filters, sort orders, keyset pages, totals.

Every sort order has an index ``(pool_id, key, id)`` (migration 0009), and a page is
"the next ``limit`` rows after (key, id)" in that index: a deep page costs what the
first does, where ``OFFSET`` would read every row before it. The cursor handed out is
opaque (base64url of JSON: sort, direction, key, id); a cursor that does not decode, or
was made for another sort, is refused (``admin.bad_cursor``, 400).

Totals are exact up to ``EXACT_UP_TO`` (counting stops there); past that, PostgreSQL's
planner estimate for the same filters (``EXPLAIN``, from its statistics), and on SQLite
"more than ``EXACT_UP_TO``". Nothing counts a million rows per request. A text search
on PostgreSQL (a part of an address, a name or a field) is read once for its page and
its total (``one_pass_query``): when at most ``ONE_PASS_UP_TO`` users match, the total
is exact.

Filters: address part (``q``) or prefix (``prefix``), on any of the user's addresses;
name part (``name``: ``display_name``, else ``name``, else given (or first) name and
family (or last) name); a
payload field (``field``/``value``: part of the value, any case, for fields the schema
marks ``x-searchable``; the exact value for other properties, unindexed); status
(deleted users only when asked for); creation and activation date ranges.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.canonical import search_term
from widget_server.errors import InvalidInput
from widget_server.forms.schema import identifier_field, properties, searchable_fields
from widget_server.messages import Msg, msg
from widget_server.models import Address, Credential, User, UtcDateTime
from widget_server.pools import PoolView
from widget_server.users import lifecycle

MAX_LIMIT = 200
EXACT_UP_TO = 1000
MAX_TERM = 320
#: A text search on PostgreSQL matching at most this many users is paged and counted in
#: one statement (``one_pass_query``). Past it, that statement's reading was wasted: for
#: a part in every name, 2,000 rows cost ~15 ms here, 5,000 ~40 ms.
ONE_PASS_UP_TO = 2000
SORTS = (
    "created",
    "-created",
    "activated",
    "-activated",
    "last_login",
    "-last_login",
    "address",
    "-address",
    "name",
    "-name",
)
DEFAULT_SORT = "-created"
TotalKind = Literal["exact", "estimate", "at_least"]

#: The same text as migration 0009's indexes: SQLite matches index expressions by text.
NAME_SQL = {
    "postgresql": (
        "lower(coalesce(payload ->> 'display_name', payload ->> 'name', "
        "btrim(coalesce(payload ->> 'given_name', payload ->> 'first_name', '') || ' ' || "
        "coalesce(payload ->> 'family_name', payload ->> 'last_name', ''))))"
    ),
    "sqlite": (
        "lower(coalesce(json_extract(payload, '$.display_name'), json_extract(payload, '$.name'), "
        "trim(coalesce(json_extract(payload, '$.given_name'), "
        "json_extract(payload, '$.first_name'), '') || ' ' || "
        "coalesce(json_extract(payload, '$.family_name'), json_extract(payload, '$.last_name'), "
        "''))))"
    ),
}
EPOCH_SQL = {
    "postgresql": "'1970-01-01 00:00:00+00'::timestamptz",
    "sqlite": "'1970-01-01 00:00:00.000000'",
}


class UserSearch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What an operator asked for; every field optional. Dates are ``YYYY-MM-DD`` (the
    whole day, UTC) or ISO 8601 date-times."""

    q: str | None = None
    prefix: str | None = None
    name: str | None = None
    status: str | None = None
    field: str | None = None
    value: str | None = None
    created_from: str | None = None
    created_to: str | None = None
    activated_from: str | None = None
    activated_to: str | None = None
    sort: str = DEFAULT_SORT
    limit: int = 50
    offset: int = 0
    cursor: str | None = None


class Position(msgspec.Struct, frozen=True, array_like=True):
    """Where a page starts: after (``a``) or before (``b``) the row (key, id); before
    with no row is the end (the last page)."""

    sort: str
    direction: Literal["a", "b"]
    key: str | None = None
    id: str | None = None


def encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).rstrip(b"=").decode()


def decode_cursor(cursor: str, sort: str) -> Position:
    bad = InvalidInput({"": [msg("admin.bad_cursor")]})
    if len(cursor) > 1200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=Position)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise bad from None
    if position.sort != sort or (position.key is None) != (position.id is None):
        raise bad
    if position.direction == "a" and position.key is None:
        raise bad
    return position


# --- filters ----------------------------------------------------------------------------


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """A checked search: its SQL conditions and how to order."""

    conditions: list[Any]
    sort: str
    position: Position | None
    #: A part of an address, a name or a field is asked for: few rows match, as a rule.
    text: bool = False


def plan(pool: PoolView, search: UserSearch, dialect: str) -> Plan:
    """Check ``search`` against the pool (every failure at once) and build its conditions."""
    errors = _problems(pool, search)
    ranges = {
        name: _moment(getattr(search, name), name.endswith("_to"), errors, name)
        for name in ("created_from", "created_to", "activated_from", "activated_to")
    }
    if errors:
        raise InvalidInput(errors)
    position = decode_cursor(search.cursor, search.sort) if search.cursor else None
    if position is not None and search.offset:
        raise InvalidInput({"": [msg("admin.bad_cursor")]})
    conditions: list[Any] = [User.pool_id == pool.id]
    conditions.append(User.status == search.status if search.status else User.status != "deleted")
    texts = _text_conditions(pool, search, dialect)
    conditions += texts + _range_conditions(ranges)
    return Plan(conditions=conditions, sort=search.sort, position=position, text=bool(texts))


def _problems(pool: PoolView, search: UserSearch) -> dict[str, list[Msg]]:
    errors: dict[str, list[Msg]] = {}
    if not 1 <= search.limit <= MAX_LIMIT:
        errors["limit"] = [msg("admin.limit", max=MAX_LIMIT)]
    if search.offset < 0:
        errors["offset"] = [msg("form.minimum", min=0)]
    if search.status is not None and search.status not in lifecycle.STATUSES:
        errors["status"] = [msg("form.enum")]
    if search.sort not in SORTS:
        errors["sort"] = [msg("form.enum")]
    for name in ("q", "prefix", "name", "value"):
        if len(getattr(search, name) or "") > MAX_TERM:
            errors[name] = [msg("form.too_long", max=MAX_TERM)]
    field = search.field
    if field is not None and (field not in properties(pool.schema) or len(field) > 64):
        errors["field"] = [msg("form.unknown_field", field=field[:100])]
    if (field is None) != (search.value is None):
        errors["value" if field is not None else "field"] = [msg("form.required")]
    return errors


def _moment(
    raw: str | None, end: bool, errors: dict[str, list[Msg]], name: str
) -> datetime | None:
    """A day (the whole day: its start, or the next day's start for an end) or an ISO
    date-time; naive times are UTC."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = [msg("admin.bad_date")]
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text_conditions(pool: PoolView, search: UserSearch, dialect: str) -> list[Any]:
    out: list[Any] = []
    addresses = select(Address.user_id).where(Address.pool_id == pool.id)
    if search.q and search.q.strip():
        part = search_term(search.q)
        out.append(User.id.in_(addresses.where(Address.value.contains(part, autoescape=True))))
    if search.prefix and search.prefix.strip():
        start = search_term(search.prefix)
        out.append(User.id.in_(addresses.where(Address.value.startswith(start, autoescape=True))))
    if search.name and search.name.strip():
        part = " ".join(search.name.lower().split())
        out.append(name_key(dialect).contains(part, autoescape=True))
    if search.field is not None and search.value is not None:
        out += _field_conditions(pool, search.field, search.value, dialect)
    return out


def _field_conditions(pool: PoolView, field: str, value: str, dialect: str) -> list[Any]:
    if field not in searchable_fields(pool.schema) or field == identifier_field(pool.schema):
        return [User.payload[field].as_string() == value]
    part = value.strip().lower()
    if not part:
        return []
    out: list[Any] = [func.lower(User.payload[field].as_string()).contains(part, autoescape=True)]
    if dialect == "postgresql" and part.isascii():
        # The trigram index covers the payload as stored (JSON text): a coarse filter it
        # can answer, next to the exact one on the field.
        stored = json.dumps(part)[1:-1]
        out.append(func.lower(cast(User.payload, Text)).contains(stored, autoescape=True))
    return out


def _range_conditions(ranges: dict[str, datetime | None]) -> list[Any]:
    columns = {"created": User.created_at, "activated": User.activated_at}
    out: list[Any] = []
    for name, moment in ranges.items():
        if moment is None:
            continue
        column = columns[name.rsplit("_", 1)[0]]
        out.append(column < moment if name.endswith("_to") else column >= moment)
    return out


# --- sort keys --------------------------------------------------------------------------


def name_key(dialect: str) -> ColumnElement[str]:
    return literal_column(NAME_SQL[_known(dialect)], type_=Text)


def sort_key(sort: str, dialect: str) -> Any:
    """The indexed expression a sort orders by (never NULL: keyset rows compare)."""
    field = sort.lstrip("-")
    epoch = literal_column(EPOCH_SQL[_known(dialect)], type_=UtcDateTime())
    if field == "created":
        return User.created_at
    if field == "activated":
        return func.coalesce(User.activated_at, epoch, type_=UtcDateTime())
    if field == "last_login":
        return func.coalesce(User.last_login_at, epoch, type_=UtcDateTime())
    if field == "address":
        return User.sort_address
    return name_key(dialect)


def _known(dialect: str) -> str:
    return dialect if dialect in NAME_SQL else "sqlite"


def key_text(value: Any) -> str:
    """A sort key as the cursor keeps it."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def key_value(sort: str, text: str) -> Any:
    if sort.lstrip("-") in {"created", "activated", "last_login"}:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput({"": [msg("admin.bad_cursor")]}) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return text


# --- running ----------------------------------------------------------------------------


#: Whether a row's user has a password, read with the page (never the hash): PostgreSQL
#: evaluates it after the sort and limit, for the page's rows alone.
_HAS_PASSWORD = exists().where(Credential.user_id == User.id).label("has_password")


class Found(msgspec.Struct, frozen=True, kw_only=True):
    users: list[User]
    #: Ids of the users (of ``users``) that have a password.
    with_password: frozenset[str]
    next: Position | None
    prev: Position | None


def page_query(checked: Plan, limit: int, offset: int, dialect: str) -> Select[Any]:
    """The SELECT of one page (``limit + 1`` rows: the extra one says more follow):
    users and their sort key, in the order to read them."""
    key = sort_key(checked.sort, dialect)
    query = select(User, key, _HAS_PASSWORD).where(*checked.conditions)
    return _keyset(query, checked, key, User.id, limit, offset)


def one_pass_query(checked: Plan, limit: int, offset: int, dialect: str) -> Select[Any]:
    """A text search's page and its total in one statement (PostgreSQL): the matches'
    ids and keys (at most ``ONE_PASS_UP_TO + 1``, in no order, so the trigram index
    finds them in one bitmap scan), counted, the page chosen from them, and only the
    page's rows read in full. Paging with ``page_query`` and counting with ``total``
    read every match twice. A count past ``ONE_PASS_UP_TO`` means the matches were cut
    short, and the page is not to be trusted (``find`` then pages the usual way)."""
    key = sort_key(checked.sort, dialect)
    matches = (
        select(User.id.label("id"), key.label("key"))
        .where(*checked.conditions)
        .limit(ONE_PASS_UP_TO + 1)
        .subquery("matches")
    )
    counted = select(matches.c.id, matches.c.key, func.count().over().label("n")).subquery(
        "counted"
    )
    chosen = _keyset(select(counted), checked, counted.c.key, counted.c.id, limit, offset)
    page = chosen.subquery("chosen")
    return (
        select(User, page.c.key, _HAS_PASSWORD, page.c.n)
        .join(page, User.id == page.c.id)
        .order_by(*_order(checked, page.c.key, page.c.id))
    )


def _down(checked: Plan) -> bool:
    """Whether rows are read newest (largest) first. Reading backwards (a ``b``
    position) reverses the order; the rows are turned round again afterwards."""
    position = checked.position
    return checked.sort.startswith("-") != (position is not None and position.direction == "b")


def _order(checked: Plan, key: Any, ident: Any) -> tuple[Any, Any]:
    return (key.desc(), ident.desc()) if _down(checked) else (key.asc(), ident.asc())


def _keyset(
    query: Select[Any], checked: Plan, key: Any, ident: Any, limit: int, offset: int
) -> Select[Any]:
    """``query`` ordered by (key, id), from the plan's position on, ``limit + 1`` rows."""
    position = checked.position
    query = query.order_by(*_order(checked, key, ident)).limit(limit + 1)
    if position is not None and position.key is not None and position.id is not None:
        typed = literal(key_value(checked.sort, position.key), type_=key.type)
        after = tuple_(key, ident)
        bound = tuple_(typed, literal(position.id))
        return query.where(after < bound if _down(checked) else after > bound)
    return query.offset(offset) if offset else query


async def custom_plans(session: AsyncSession, dialect: str) -> None:
    """Plan each search for its values (PostgreSQL): a prepared statement's generic plan
    cannot see that ``LIKE '%part%'`` is selective, and drops the trigram index for a
    scan of the pool after five runs. For this transaction only."""
    if dialect == "postgresql":
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


async def find(
    session: AsyncSession, checked: Plan, limit: int, offset: int, dialect: str
) -> tuple[Found, int, TotalKind]:
    """One page in the plan's order, where the pages beside it start, and the total.
    A text search on PostgreSQL that matches at most ``ONE_PASS_UP_TO`` users is
    answered by one statement (``one_pass_query``), its total exact."""
    if dialect != "postgresql" or not checked.text:
        found = await page(session, checked, limit, offset, dialect)
        return (found, *await total(session, checked.conditions, dialect))
    rows = list((await session.execute(one_pass_query(checked, limit, offset, dialect))).all())
    matched = int(rows[0][-1]) if rows else 0
    if matched > ONE_PASS_UP_TO:
        # Many match (a short or common part): the sort key's index finds the page
        # faster than the matches are sorted, and no count is worth making.
        found = await page(session, checked, limit, offset, dialect)
        return (found, *await _past(session, checked.conditions, ONE_PASS_UP_TO))
    if rows or (checked.position is None and not offset):
        return _found(checked, rows, limit, offset), matched, "exact"
    # No row after a cursor or offset: the matches may have been cut short before it
    # (and the count is unknown), so the page is read the usual way.
    found = await page(session, checked, limit, offset, dialect)
    return (found, *await total(session, checked.conditions, dialect))


async def page(
    session: AsyncSession, checked: Plan, limit: int, offset: int, dialect: str
) -> Found:
    """One page in the plan's order, and where the pages beside it start."""
    query = page_query(checked, limit, offset, dialect)
    return _found(checked, list((await session.execute(query)).all()), limit, offset)


def _found(checked: Plan, rows: list[Any], limit: int, offset: int) -> Found:
    """The page of ``rows`` (users and their sort keys, ``limit + 1`` at most, in the
    order read)."""
    position = checked.position
    more = len(rows) > limit
    rows = rows[:limit]
    if position is not None and position.direction == "b":
        rows.reverse()
    users = [row[0] for row in rows]
    keys = [key_text(row[1]) for row in rows]
    with_password = frozenset(row[0].id for row in rows if row[2])
    return Found(
        users=users,
        with_password=with_password,
        **_beside(checked.sort, users, keys, position, more, offset),
    )


def _beside(
    sort: str,
    users: Sequence[User],
    keys: Sequence[str],
    position: Position | None,
    more: bool,
    offset: int,
) -> dict[str, Position | None]:
    if not users:
        return {"next": None, "prev": None}
    first = Position(sort, "b", keys[0], users[0].id)
    last = Position(sort, "a", keys[-1], users[-1].id)
    if position is None or position.direction == "a":
        earlier = position is not None or offset > 0
        return {"next": last if more else None, "prev": first if earlier else None}
    # Read backwards: more rows lie before; the rows after exist unless this was the end.
    return {"next": last if position.key is not None else None, "prev": first if more else None}


async def total(
    session: AsyncSession, conditions: Sequence[Any], dialect: str
) -> tuple[int, TotalKind]:
    """Exact up to ``EXACT_UP_TO``; past that the planner's estimate (PostgreSQL) or a
    floor (SQLite)."""
    capped = select(User.id).where(*conditions).limit(EXACT_UP_TO + 1).subquery()
    counted = int((await session.execute(select(func.count()).select_from(capped))).scalar_one())
    if counted <= EXACT_UP_TO:
        return counted, "exact"
    if dialect != "postgresql":
        return EXACT_UP_TO, "at_least"
    return await _past(session, conditions, EXACT_UP_TO)


async def _past(
    session: AsyncSession, conditions: Sequence[Any], floor: int
) -> tuple[int, TotalKind]:
    """The total of a search known to match more than ``floor`` users (PostgreSQL)."""
    estimate = await _estimate(session, conditions)
    return (estimate, "estimate") if estimate > floor else (floor, "at_least")


async def _estimate(session: AsyncSession, conditions: Sequence[Any]) -> int:
    query = select(User.id).where(*conditions)
    # EXPLAIN takes no bind parameters: the values are inlined by SQLAlchemy's own
    # literal rendering (quoted and escaped for PostgreSQL).
    dialect = asyncpg.dialect()  # type: ignore[no-untyped-call]
    sql = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    document = (await session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}"))).scalar_one()
    found = json.loads(document) if isinstance(document, str) else document
    return int(found[0]["Plan"]["Plan Rows"])
