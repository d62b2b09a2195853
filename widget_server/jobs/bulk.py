"""Bulk actions on chosen users, or on every user a search of the list matches:
deactivate, reactivate, delete, resend the activation, revoke sessions, set (or, with
``null``, remove) one metadata field.

Each user goes through the same service function as a single change
(``admin/users.py``), with the same rules, its own transaction, its own audit row and
webhook event, as the administrator who started the job. A user the action does not
apply to (deactivating someone already inactive, resending to an active user, a
metadata value the schema refuses) is skipped and counted by message id. Users are
taken in id order, a batch at a time (keyset), and progress is checkpointed after
each batch: a cancelled job stops there, a crashed one resumes after it (changes are
idempotent: a user done twice is skipped the second time).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from widget_server.admin import users
from widget_server.errors import Conflict, InvalidInput, NotFound, ResendTooSoon
from widget_server.jobs import selection
from widget_server.jobs.context import JobContext
from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.users.inputs import UserPatch

BATCH = 100
Action = Literal[
    "deactivate", "reactivate", "delete", "resend_activation", "revoke_sessions", "set_metadata"
]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BulkParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``ids`` (at most 10,000) or ``search`` (the users list's query: ``q``,
    ``status``, ``field``, ``value``); ``key`` and ``value`` for ``set_metadata``."""

    action: Action
    ids: list[Annotated[str, msgspec.Meta(max_length=64)]] | None = None
    search: selection.Search | None = None
    key: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    value: Any = None

    @property
    def chosen(self) -> selection.Selection:
        return selection.Selection(ids=self.ids, search=self.search)


def check(pool: PoolView, params: BulkParams) -> None:
    errors: dict[str, list[Msg]] = {}
    try:
        selection.check(pool, params.chosen)
    except InvalidInput as exc:
        errors |= {k: list(v) for k, v in exc.messages.items()}
    if params.action == "set_metadata" and not _KEY.fullmatch(params.key or ""):
        errors["key"] = [msg("jobs.metadata_key")]
    if errors:
        raise InvalidInput(errors)


async def run(ctx: JobContext) -> None:
    params = ctx.params(BulkParams)
    where = selection.conditions(ctx.pool, params.chosen, selection.dialect_of(ctx.services))
    if "after" not in ctx.cursor:
        async with ctx.services.db.read() as session:
            total = await selection.count(session, where)
        ctx.cursor, ctx.done = {"after": ""}, 0
        ctx.result = {"changed": 0, "skipped": 0, "reasons": {}}
        await ctx.save(total=total)
    while True:
        async with ctx.services.db.read() as session:
            ids = await selection.next_ids(session, where, str(ctx.cursor["after"]), BATCH)
        if not ids:
            return
        for user_id in ids:
            reason = await _apply(ctx, params, user_id)
            if reason is None:
                ctx.result["changed"] += 1
            else:
                ctx.result["skipped"] += 1
                reasons = ctx.result["reasons"]
                reasons[reason] = reasons.get(reason, 0) + 1
        ctx.done += len(ids)
        ctx.cursor = {"after": ids[-1]}
        await ctx.save()


async def _apply(ctx: JobContext, params: BulkParams, user_id: str) -> str | None:
    """Change one user; None, or the message id of why it was skipped."""
    services, actor, pool_id = ctx.services, ctx.actor, ctx.pool.id
    try:
        match params.action:
            case "deactivate" | "reactivate":
                await users.change_status(services, actor, pool_id, user_id, params.action)
            case "delete":
                await users.delete_user(services, actor, pool_id, user_id)
            case "resend_activation":
                await users.resend_activation(services, actor, pool_id, user_id)
            case "revoke_sessions":
                await users.revoke_sessions(services, actor, pool_id, user_id)
            case "set_metadata":
                patch = UserPatch(metadata={params.key or "": params.value})
                await users.update_user(services, actor, pool_id, user_id, patch)
    except (Conflict, ResendTooSoon) as exc:
        return exc.message.id
    except InvalidInput as exc:
        first = next(iter(exc.messages.values()), ())
        return first[0].id if first else "form.invalid"
    except NotFound:
        return "admin.not_found"  # deleted by someone else meanwhile
    return None
