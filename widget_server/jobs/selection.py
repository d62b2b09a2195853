"""Which of a pool's users a job means: chosen ids, or everyone a search of the users
list matches ("all matching this search", sent as the list's own query parameters).

The search reads like the users list's: ``q`` is part of an address (any case),
``status`` one status (deleted users only when asked for), ``field``/``value`` an exact
match on a payload property of the pool's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.errors import InvalidInput
from widget_server.forms.schema import properties
from widget_server.messages import Msg, msg
from widget_server.models import Address, User
from widget_server.pools import PoolView
from widget_server.users import lifecycle

#: Users a job may name one by one; more go by search.
MAX_IDS = 10_000


class Search(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    q: Annotated[str, msgspec.Meta(max_length=320)] = ""
    status: Annotated[str, msgspec.Meta(max_length=16)] = ""
    field: Annotated[str, msgspec.Meta(max_length=64)] = ""
    value: Annotated[str, msgspec.Meta(max_length=1000)] = ""


class Selection(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Exactly one of ``ids`` and ``search``."""

    ids: list[Annotated[str, msgspec.Meta(max_length=64)]] | None = None
    search: Search | None = None


def check(pool: PoolView, selection: Selection) -> None:
    errors: dict[str, list[Msg]] = {}
    neither_or_both = (selection.ids is None) == (selection.search is None)
    if neither_or_both or selection.ids == []:
        errors["ids"] = [msg("jobs.no_users")]
    elif selection.ids is not None and len(selection.ids) > MAX_IDS:
        errors["ids"] = [msg("jobs.too_many_ids", max=MAX_IDS)]
    if selection.search is not None:
        errors |= _search_errors(pool, selection.search)
    if errors:
        raise InvalidInput(errors)


def _search_errors(pool: PoolView, search: Search) -> dict[str, list[Msg]]:
    errors: dict[str, list[Msg]] = {}
    if search.status and search.status not in lifecycle.STATUSES:
        errors["search.status"] = [msg("form.enum")]
    if search.field and search.field not in properties(pool.schema):
        errors["search.field"] = [msg("form.unknown_field", field=search.field[:100])]
    if bool(search.field) != bool(search.value):
        errors["search.value" if search.field else "search.field"] = [msg("form.required")]
    return errors


def conditions(pool_id: str, selection: Selection) -> list[Any]:
    """SQL conditions on ``User`` for the selection (checked with ``check`` before)."""
    found: list[Any] = [User.pool_id == pool_id]
    if selection.ids is not None:
        found.append(User.id.in_(sorted(set(selection.ids))))
        return found
    search = selection.search or Search()
    found.append(User.status == search.status if search.status else User.status != "deleted")
    if search.q.strip():
        part = search.q.strip().lower()
        found.append(
            exists().where(
                Address.user_id == User.id, Address.value.contains(part, autoescape=True)
            )
        )
    if search.field:
        found.append(User.payload[search.field].as_string() == search.value)
    return found


async def count(session: AsyncSession, where: Sequence[Any]) -> int:
    total = await session.execute(select(func.count()).select_from(User).where(*where))
    return int(total.scalar_one())


async def next_ids(
    session: AsyncSession, where: Sequence[Any], after: str, limit: int
) -> list[str]:
    """The next ``limit`` user ids past ``after``, in id order (keyset: each batch costs
    the same, however deep into a million users)."""
    found = await session.execute(
        select(User.id).where(*where, User.id > after).order_by(User.id).limit(limit)
    )
    return list(found.scalars())
