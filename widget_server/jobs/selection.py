"""Which of a pool's users a job means: chosen ids, or everyone a search of the users
list matches ("all matching this search", sent as the list's own query parameters).

The search is the users list's own (``users.search``): the same filters build the same
SQL conditions, so "all matching" is what the operator saw listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server.errors import InvalidInput
from widget_server.messages import Msg, msg
from widget_server.models import User
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.users.search import UserSearch, plan

#: Users a job may name one by one; more go by search.
MAX_IDS = 10_000


class Search(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The users list's filters (``users.search.UserSearch`` without sort and paging):
    "all matching" means exactly the users the list shows."""

    q: Annotated[str, msgspec.Meta(max_length=320)] = ""
    prefix: Annotated[str, msgspec.Meta(max_length=320)] = ""
    name: Annotated[str, msgspec.Meta(max_length=320)] = ""
    status: Annotated[str, msgspec.Meta(max_length=16)] = ""
    field: Annotated[str, msgspec.Meta(max_length=64)] = ""
    value: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    created_from: Annotated[str, msgspec.Meta(max_length=40)] = ""
    created_to: Annotated[str, msgspec.Meta(max_length=40)] = ""
    activated_from: Annotated[str, msgspec.Meta(max_length=40)] = ""
    activated_to: Annotated[str, msgspec.Meta(max_length=40)] = ""


#: The list's query parameters a search is made of (the portal forwards these).
SEARCH_FIELDS = tuple(Search.__struct_fields__)


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
        try:
            plan(pool, _as_user_search(selection.search), "sqlite")
        except InvalidInput as exc:
            errors |= {f"search.{k}" if k else "search": list(v) for k, v in exc.messages.items()}
    if errors:
        raise InvalidInput(errors)


def _as_user_search(search: Search) -> UserSearch:
    """The list's own search: an empty filter is no filter (the form sends ``""``)."""
    given = {k: v for k, v in msgspec.structs.asdict(search).items() if v != ""}
    return UserSearch(**given)


def conditions(pool: PoolView, selection: Selection, dialect: str) -> list[Any]:
    """SQL conditions on ``User`` for the selection (checked with ``check`` before): for
    a search, the very conditions the users list uses (``users.search.plan``)."""
    if selection.ids is not None:
        return [User.pool_id == pool.id, User.id.in_(sorted(set(selection.ids)))]
    return plan(pool, _as_user_search(selection.search or Search()), dialect).conditions


def dialect_of(services: Services) -> str:
    return "sqlite" if services.db.is_sqlite else "postgresql"


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
