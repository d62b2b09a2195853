"""Users, administered: list, read, create (three ways), edit, change status, delete,
resend the invitation, revoke sessions.

Every function starts with ``guarded_pool`` (tenant, pool scope, role; refusals are
audited), runs one transaction and writes its audit event inside it, so there is no
change without its record. A user id that is missing or belongs to another pool is
``NotFound("user")`` either way, and is audited as a denied attempt. Reads are not
audited (only refused reads are).

Audit details name fields and statuses, never values: no password, code, address or
payload content ends up in the trail.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import Action, Actor
from widget_server.admin.guard import guarded_pool
from widget_server.auth.sessions import revoke_user_sessions
from widget_server.canonical import account_key
from widget_server.errors import Conflict, InvalidInput, NotFound, ResendTooSoon
from widget_server.forms import KeyedSchema, validate_payload
from widget_server.messages import Msg, msg
from widget_server.models import Address, Code, Credential, User
from widget_server.passwords.history import remember
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.services import Services
from widget_server.upsert import insert_ignoring_conflict
from widget_server.users import invitations, lifecycle
from widget_server.users.erasure import erase
from widget_server.users.inputs import (
    NewUser,
    UserPatch,
    checked_metadata,
    identifier_of,
    merge,
    new_payload,
    patched_payload,
)
from widget_server.users.search import (
    Position,
    UserSearch,
    custom_plans,
    encode_cursor,
    find,
    plan,
)
from widget_server.users.views import AddressView, UserPage, UserView, views_of
from widget_server.webhooks import emit
from widget_server.webhooks.events import USER_ACTIVATED, USER_REGISTERED

__all__ = [
    "AddressView",
    "NewUser",
    "StatusAction",
    "UserPage",
    "UserPatch",
    "UserSearch",
    "UserView",
    "change_status",
    "count_invalid_users",
    "create_user",
    "delete_user",
    "get_user",
    "list_users",
    "resend_activation",
    "revoke_sessions",
    "update_user",
]

T = TypeVar("T")
StatusAction = Literal["activate", "deactivate", "reactivate"]
_BATCH = 500
#: Readable English for ``admin.status_transition`` ("A new user cannot be deactivated.").
_DONE = {
    "activate": "activated",
    "deactivate": "deactivated",
    "reactivate": "reactivated",
    "delete": "deleted",
    "update": "updated",
}


# --- reading --------------------------------------------------------------------------


async def list_users(
    services: Services,
    actor: Actor,
    pool_id: str,
    search: UserSearch | None = None,
    **filters: Any,
) -> UserPage:
    """One page of the pool's users (``users/search.py``: filters, sorts, keyset cursors,
    totals). ``search`` or the same fields as keywords. Deleted users only with
    ``status="deleted"``."""
    pool = await guarded_pool(services, actor, "users.read", pool_id, target_type="user")
    wanted = search or _search_of(filters)
    dialect = "sqlite" if services.db.is_sqlite else "postgresql"
    checked = plan(pool, wanted, dialect)
    async with services.db.read() as session:
        if wanted.q or wanted.prefix or wanted.name or wanted.value:
            await custom_plans(session, dialect)
        found, total, kind = await find(session, checked, wanted.limit, wanted.offset, dialect)
        items = await views_of(session, found.users, found.with_password)
    last = Position(wanted.sort, "b")
    return UserPage(
        items=items,
        total=total,
        total_kind=kind,
        limit=wanted.limit,
        offset=wanted.offset,
        sort=wanted.sort,
        next_cursor=encode_cursor(found.next) if found.next else None,
        prev_cursor=encode_cursor(found.prev) if found.prev else None,
        last_cursor=encode_cursor(last),
    )


def _search_of(filters: dict[str, Any]) -> UserSearch:
    try:
        return msgspec.convert(filters, UserSearch)
    except msgspec.ValidationError as exc:
        raise InvalidInput({"": [msg("admin.invalid_value", detail=str(exc))]}) from None


async def get_user(services: Services, actor: Actor, pool_id: str, user_id: str) -> UserView:
    async def view(session: AsyncSession, pool: PoolView, user: User, now: datetime) -> UserView:
        return (await views_of(session, [user]))[0]

    return await _with_user(services, actor, pool_id, user_id, "users.read", view, write=False)


# --- creating -------------------------------------------------------------------------


async def create_user(services: Services, actor: Actor, pool_id: str, new: NewUser) -> UserView:
    """Create a user the way ``NewUser`` describes; the unique address index decides
    duplicates (``admin.address_taken``, nothing stored)."""
    pool = await guarded_pool(services, actor, "users.write", pool_id, target_type="user")
    kind, email, payload, metadata = _checked_new(pool, new)
    secret_hash = await services.hashing.hash(new.password) if new.password else None
    now, user_id = services.clock.now(), secrets_.new_id()
    async with services.db.write() as session:
        user = User(
            id=user_id,
            pool_id=pool.id,
            status=new.status,
            payload=payload,
            metadata_=metadata,
            created_at=now,
            updated_at=now,
            activated_at=now if new.status == "active" else None,
            created_by=actor.principal.id,
            deleted_at=None,
        )
        session.add(user)
        await session.flush()
        address = account_key(email) if kind == "email" else email
        await _add_address(session, pool, user, kind, address, now)
        if secret_hash is not None:
            session.add(
                Credential(
                    id=secrets_.new_id(),
                    user_id=user_id,
                    kind="password",
                    secret_hash=secret_hash,
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
            await remember(session, user_id, secret_hash, pool.policy.history, now)
        how = await _welcome(services, session, pool, user, address, new)
        await _record(session, actor, "user.create", pool, user_id, now, how)
        await session.flush()
        await emit.user_event(session, pool, USER_REGISTERED, user_id, now, source="admin")
        if new.status == "active":
            await emit.user_event(session, pool, USER_ACTIVATED, user_id, now, source="admin")
        view = (await views_of(session, [user]))[0]
    services.notify_outbox()
    return view


def _checked_new(
    pool: PoolView, new: NewUser
) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
    """Every check of a new user, all failures at once: (identifier kind, its value,
    payload, metadata). The pool's identifier decides email or phone."""
    errors: dict[str, list[Msg]] = {}
    kind, email = _collect(errors, identifier_of, pool, new) or ("email", "")
    payload = _collect(errors, new_payload, pool, email, new.payload) if email else None
    metadata = _collect(errors, checked_metadata, pool, new.metadata)
    errors.update(_password_problems(pool, new, email, payload or {}))
    if errors:
        raise InvalidInput(errors)
    assert payload is not None and metadata is not None  # no errors: every check returned
    return kind, email, payload, metadata


def _collect(errors: dict[str, list[Msg]], check: Callable[..., T], *args: Any) -> T | None:
    """``check(*args)``, or None with its ``InvalidInput`` messages added to ``errors``."""
    try:
        return check(*args)
    except InvalidInput as exc:
        errors.update({k: list(v) for k, v in exc.messages.items()})
        return None


def _password_problems(
    pool: PoolView, new: NewUser, email: str, payload: dict[str, Any]
) -> dict[str, list[Msg]]:
    if new.status == "active" and (new.password is None) == (not new.send_set_password_link):
        return {"password": [msg("admin.password_or_link")]}
    if new.password is None:
        return {}
    others = tuple(str(v) for v in payload.values() if isinstance(v, str) and v != email)
    context = PasswordContext(identifier=email or None, attributes=others)
    problems = pool.policy.validate(new.password, context)
    return {"password": list(problems)} if problems else {}


async def _add_address(
    session: AsyncSession, pool: PoolView, user: User, kind: str, value: str, now: datetime
) -> None:
    verified = user.status == "active"
    row = {
        "id": secrets_.new_id(),
        "user_id": user.id,
        "pool_id": pool.id,
        "kind": kind,
        "value": value,
        "status": "verified" if verified else "unverified",
        "verified_at": now if verified else None,
        "created_at": now,
    }
    # Raised inside the transaction: the user row goes with it.
    if not await insert_ignoring_conflict(session, Address, row, ("pool_id", "kind", "value")):
        raise InvalidInput({kind: [msg("admin.address_taken")]})


async def _welcome(
    services: Services,
    session: AsyncSession,
    pool: PoolView,
    user: User,
    address: str,
    new: NewUser,
) -> dict[str, Any]:
    """Send what the new user needs; return the audit details (how, never what)."""
    details: dict[str, Any] = {"status": user.status, "fields": sorted(user.payload)}
    if user.status == "new":
        await invitations.invite(services, session, pool, user.id, address)
        details["sent"] = "invitation"
    elif new.send_set_password_link:
        await invitations.send_set_password_link(services, session, pool, user.id, address)
        details["sent"] = "set_password_link"
    details["password"] = new.password is not None
    return details


# --- changing -------------------------------------------------------------------------


async def update_user(
    services: Services, actor: Actor, pool_id: str, user_id: str, patch: UserPatch
) -> UserView:
    """Merge ``patch`` into payload and metadata; the whole result must validate."""

    async def work(session: AsyncSession, pool: PoolView, user: User, now: datetime) -> UserView:
        if user.status == "deleted":
            raise Conflict("admin.status_transition", status="deleted", action=_DONE["update"])
        payload, metadata, changed = _patched(pool, user, patch)
        await session.execute(
            update(User)
            .where(User.id == user.id)
            .values(payload=payload, metadata_=metadata, updated_at=now)
        )
        await _record(session, actor, "user.update", pool, user.id, now, {"fields": changed})
        if changed:
            await emit.user_updated(session, pool, user.id, now, source="admin", changes=changed)
        await session.refresh(user)
        return (await views_of(session, [user]))[0]

    return await _with_user(services, actor, pool_id, user_id, "users.write", work)


def _patched(
    pool: PoolView, user: User, patch: UserPatch
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    errors: dict[str, list[Msg]] = {}
    payload, metadata = dict(user.payload), dict(user.metadata_)
    if patch.payload is not None:
        checked = _collect(errors, patched_payload, pool, user.payload, patch.payload)
        payload = payload if checked is None else checked
    if patch.metadata is not None:
        merged = _collect(errors, checked_metadata, pool, merge(user.metadata_, patch.metadata))
        metadata = metadata if merged is None else merged
    if errors:
        raise InvalidInput(errors)
    changed = [f"payload.{k}" for k in _changed(user.payload, payload)]
    changed += [f"metadata.{k}" for k in _changed(user.metadata_, metadata)]
    return payload, metadata, changed


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


async def change_status(
    services: Services, actor: Actor, pool_id: str, user_id: str, action: StatusAction
) -> UserView:
    """``activate`` (new → active: the address counts as verified, pending invitations
    die, and a user without a password gets a set-password link, or the account could
    never be used), ``deactivate`` (active → inactive: sessions revoked), ``reactivate``."""

    async def work(session: AsyncSession, pool: PoolView, user: User, now: datetime) -> UserView:
        before = user.status
        target = _transition(before, action)
        details: dict[str, Any] = {"from": before, "to": target}
        changes: dict[str, Any] = {"status": target, "updated_at": now}
        if action == "activate":
            changes["activated_at"] = now
            details |= await _activate(services, session, pool, user, now)
        if action == "deactivate":
            await _revoke(session, user.id, now)
        await session.execute(update(User).where(User.id == user.id).values(**changes))
        await _record(session, actor, f"user.{action}", pool, user.id, now, details)
        if action == "activate":
            await emit.user_event(session, pool, USER_ACTIVATED, user.id, now, source="admin")
        else:
            await emit.user_updated(session, pool, user.id, now, source="admin", changes=["status"])
        await session.refresh(user)
        return (await views_of(session, [user]))[0]

    if action not in ("activate", "deactivate", "reactivate"):
        raise InvalidInput({"action": [msg("form.enum")]})
    view = await _with_user(services, actor, pool_id, user_id, "users.write", work)
    services.notify_outbox()
    return view


async def _activate(
    services: Services, session: AsyncSession, pool: PoolView, user: User, now: datetime
) -> dict[str, Any]:
    await session.execute(
        update(Address)
        .where(Address.user_id == user.id, Address.status == "unverified")
        .values(status="verified", verified_at=now)
    )
    await invitations.drop_pending(session, user.id)
    if await session.scalar(select(Credential.id).where(Credential.user_id == user.id)):
        return {}
    address = await _email_of(session, user.id)
    await invitations.send_set_password_link(services, session, pool, user.id, address)
    return {"sent": "set_password_link"}


async def _email_of(session: AsyncSession, user_id: str) -> str:
    """Where the user's invitation or link goes: the first email address, else (a phone
    pool's user) the first number."""
    found = await session.execute(
        select(Address.value)
        .where(Address.user_id == user_id, Address.kind.in_(("email", "phone")))
        .order_by(Address.kind, Address.created_at)
        .limit(1)
    )
    return found.scalar_one()


def _transition(status: str, action: str) -> str:
    try:
        return lifecycle.transition(status, action)
    except Conflict:
        raise Conflict(
            "admin.status_transition", status=status, action=_DONE.get(action, action)
        ) from None


async def delete_user(services: Services, actor: Actor, pool_id: str, user_id: str) -> None:
    """Status ``deleted``, personal data gone, the address free again; the audit trail stays."""

    async def work(session: AsyncSession, pool: PoolView, user: User, now: datetime) -> None:
        before = user.status
        _transition(before, "delete")
        await erase(session, user.id, now)
        await _record(session, actor, "user.delete", pool, user.id, now, {"from": before})
        await emit.user_deleted(session, pool, user.id, now, source="admin")

    await _with_user(services, actor, pool_id, user_id, "users.write", work)


async def resend_activation(services: Services, actor: Actor, pool_id: str, user_id: str) -> None:
    """A fresh invitation (new link, new code) for a ``new`` user; older links stop
    working. At most one per ``code_resend_cooldown_seconds``."""

    async def work(session: AsyncSession, pool: PoolView, user: User, now: datetime) -> None:
        if user.status != "new":
            raise Conflict("admin.not_pending")
        await _cool_down(services, session, user.id, now)
        address = await _email_of(session, user.id)
        await invitations.drop_pending(session, user.id)
        await invitations.invite(services, session, pool, user.id, address)
        await _record(session, actor, "user.resend_activation", pool, user.id, now, {})

    await _with_user(services, actor, pool_id, user_id, "users.write", work)
    services.notify_outbox()


async def _cool_down(
    services: Services, session: AsyncSession, user_id: str, now: datetime
) -> None:
    cooldown = timedelta(seconds=services.settings.code_resend_cooldown_seconds)
    newest = (
        await session.execute(
            select(func.max(Code.sent_at)).where(
                Code.user_id == user_id, Code.purpose.in_(invitations.PURPOSES)
            )
        )
    ).scalar_one_or_none()
    if newest is not None:
        newest = newest if newest.tzinfo else newest.replace(tzinfo=now.tzinfo)
        if newest > now - cooldown:
            wait = int((newest + cooldown - now).total_seconds()) + 1
            raise ResendTooSoon(max(wait, 1))


async def revoke_sessions(services: Services, actor: Actor, pool_id: str, user_id: str) -> int:
    """Revoke every live session of the user; return how many there were."""

    async def work(session: AsyncSession, pool: PoolView, user: User, now: datetime) -> int:
        count = await _revoke(session, user.id, now)
        details = {"count": count}
        await _record(session, actor, "user.revoke_sessions", pool, user.id, now, details)
        return count

    return await _with_user(services, actor, pool_id, user_id, "users.write", work)


async def _revoke(session: AsyncSession, user_id: str, now: datetime) -> int:
    return await revoke_user_sessions(session, user_id, now)


# --- schema changes -------------------------------------------------------------------


async def count_invalid_users(services: Services, pool_id: str, schema: dict[str, Any]) -> int:
    """How many of the pool's users (deleted ones aside) would fail ``schema``: what an
    admin must know before switching the pool to it. Reads in batches by id."""
    keyed = KeyedSchema(schema)  # serialised once for the validator cache, not per user
    invalid, after = 0, ""
    while True:
        async with services.db.read() as session:
            batch = (
                await session.execute(
                    select(User.id, User.payload)
                    .where(User.pool_id == pool_id, User.status != "deleted", User.id > after)
                    .order_by(User.id)
                    .limit(_BATCH)
                )
            ).all()
        invalid += sum(1 for _, payload in batch if validate_payload(keyed, payload or {}))
        if len(batch) < _BATCH:
            return invalid
        after = batch[-1][0]


# --- the frame every single-user function runs in -------------------------------------


class _Missing(Exception):
    pass


async def _with_user(
    services: Services,
    actor: Actor,
    pool_id: str,
    user_id: str,
    permission: Action,
    work: Callable[[AsyncSession, PoolView, User, datetime], Awaitable[T]],
    *,
    write: bool = True,
) -> T:
    """Guard, open one transaction, load the user of this pool (locked for writes on
    PostgreSQL, so concurrent changes queue), run ``work``."""
    pool = await guarded_pool(
        services, actor, permission, pool_id, target_type="user", target_id=user_id[:64]
    )
    now = services.clock.now()
    opened = services.db.write() if write else services.db.read()
    try:
        async with opened as session:
            query = select(User).where(User.id == user_id, User.pool_id == pool.id)
            user = (
                await session.execute(query.with_for_update() if write else query)
            ).scalar_one_or_none()
            if user is None or len(user_id) > 64:
                raise _Missing()
            return await work(session, pool, user, now)
    except _Missing:
        await audit.record_denied(
            services.db,
            actor,
            permission,
            target_type="user",
            target_id=user_id[:64],
            pool_id=pool.id,
            now=now,
        )
        raise NotFound("user") from None


async def _record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    pool: PoolView,
    user_id: str,
    now: datetime,
    details: dict[str, Any],
) -> None:
    await audit.record(
        session,
        actor,
        action,
        target_type="user",
        target_id=user_id,
        pool_id=pool.id,
        now=now,
        details=details,
    )
