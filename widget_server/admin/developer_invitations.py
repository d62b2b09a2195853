"""Partner developers get in by invitation: an operator (or a pool admin, for its pool)
invites an email address, scoped to one or more pools or one workspace
(``developer_scope``); the email carries a single-use, expiring link; the developer
chooses a password there and is signed in, with the pools the invitation still names (a
pool deleted meanwhile drops out; with none left the link no longer opens).

An inviter sees and manages an invitation only if every pool it names is in the
inviter's scope: a pool admin never learns of an invitation to its pool and another.

::

    sent ─accept→ accepted          (a developer principal is created, once)
      │ ↺ resend  (a new link: the old one stops working; at most MAX_SENDS emails)
      ├─revoke→ revoked
      └─(time)→ expired            (resend makes it sent again)

The link's token is 192 random bits; only its keyed hash is stored (a copy of the table
gives no working link), and it is looked up by that hash. Acceptance is one conditional
UPDATE on a live, unexpired, unaccepted row, so two clicks of one link create one
developer. The inviter's answer is the same whether or not the address already has
access somewhere: nothing here tells an inviter which addresses exist. The person with
the mailbox learns it when accepting (``invitation.developer_taken``), which tells them
about their own address only.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.admin import audit
from widget_server.admin.access import (
    Actor,
    Principal,
    pool_scope,
    principal_of,
    sees_workspace,
)
from widget_server.admin.developer_scope import (
    MAX_POOLS,
    SCOPE_WORDS,
    check_pools,
    requested,
    store_pools,
)
from widget_server.admin.guard import guard
from widget_server.admin.principals import ADMIN_PASSWORD_POLICY
from widget_server.admin.validation import Problems
from widget_server.branding.workspaces import workspace_of_tenant
from widget_server.errors import Conflict, NotFound, PoolNotFound
from widget_server.mail.outbox import enqueue_email
from widget_server.models import (
    AdminPrincipal,
    DeveloperInvitation,
    DeveloperInvitationPool,
    Pool,
    Tenant,
    Workspace,
)
from widget_server.passwords.policy import PasswordContext
from widget_server.pools import PoolView
from widget_server.services import Services

#: Emails one invitation may send (the first and four resends): enough for a lost mail,
#: too few to turn the server into a mail cannon.
MAX_SENDS = 5
#: How long a link works.
LIFETIME = timedelta(days=7)
_HASH_PURPOSE = "developer-invitation"
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
State = Literal["sent", "accepted", "revoked", "expired"]


class NewDeveloperInvitation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    name: _Name
    #: The developer's pools (``pool_id`` for one, ``pool_ids`` for one or more), or its
    #: workspace (tenant-wide inviters only): pools or a workspace, not both.
    pool_id: str | None = None
    pool_ids: Annotated[list[str], msgspec.Meta(max_length=MAX_POOLS)] | None = None
    workspace_id: str | None = None


class InvitationView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    name: str
    #: The one pool when the invitation names exactly one (for clients of one pool).
    pool_id: str | None
    pool_ids: list[str]
    workspace_id: str | None
    state: State
    invited_by: str
    sent_count: int
    created_at: datetime
    sent_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationLink(msgspec.Struct, frozen=True, kw_only=True):
    """What the acceptance page shows before the developer chooses a password."""

    email: str
    name: str
    scope_name: str


def token_hash(secret_key: str, token: str) -> str:
    return secrets_.keyed_hash(secret_key, _HASH_PURPOSE, token)


def accept_link(services: Services, token: str) -> str:
    return f"{services.settings.public_url}/developers/join/{token}"


# --- the inviter's side ------------------------------------------------------------------


async def invite_developer(
    services: Services, actor: Actor, new: NewDeveloperInvitation
) -> InvitationView:
    """Record the invitation and put its email in the outbox, in one transaction."""
    pools = requested(new.pool_id, new.pool_ids) or []
    # Each pool through the guard: one outside the inviter's scope is a 404, audited.
    await _guard_pools(services, actor, pools[: MAX_POOLS + 1])
    problems = Problems()
    email = _email(new.email, problems)
    async with services.db.read() as session:
        pools, scope_name = await _check_scope(session, actor, new, pools, problems)
    problems.raise_if_any()
    now = services.clock.now()
    token = secrets_.new_token()
    row = DeveloperInvitation(
        id=secrets_.new_id(),
        tenant_id=actor.tenant_id,
        email=email,
        name=new.name.strip(),
        workspace_id=new.workspace_id,
        token_hash=token_hash(services.settings.secret_key, token),
        invited_by=actor.principal.id,
        invited_by_name=actor.principal.name,
        sent_count=1,
        created_at=now,
        sent_at=now,
        expires_at=now + LIFETIME,
        accepted_at=None,
        revoked_at=None,
        principal_id=None,
    )
    async with services.db.write() as session:
        session.add(row)
        await session.flush()
        session.add_all(DeveloperInvitationPool(invitation_id=row.id, pool_id=p) for p in pools)
        await session.flush()
        await _mail(services, session, row, pools, token, scope_name, now)
        await _audit(session, actor, "developer_invitation.create", row, pools, now)
    return _view(row, pools, now)


async def list_invitations(services: Services, actor: Actor) -> list[InvitationView]:
    await guard(services, actor, "developers.invite", target_type="developer_invitation")
    now = services.clock.now()
    async with services.db.read() as session:
        query = (
            select(DeveloperInvitation)
            .where(DeveloperInvitation.tenant_id == actor.tenant_id)
            .order_by(DeveloperInvitation.created_at.desc(), DeveloperInvitation.id)
        )
        rows = (await session.execute(query)).scalars().all()
        pools = await _pools_of(session, [r.id for r in rows])
    return [
        _view(r, pools.get(r.id, []), now) for r in rows if _reaches(actor, r, pools.get(r.id, []))
    ]


def _reaches(actor: Actor, row: DeveloperInvitation, pools: list[str]) -> bool:
    """Whether the inviter's scope holds the whole invitation."""
    scope = pool_scope(actor.principal)
    if scope is None:
        return True
    return row.workspace_id is None and bool(pools) and set(pools) <= scope


async def resend_invitation(services: Services, actor: Actor, invitation_id: str) -> InvitationView:
    """A new link (the previous one stops working) valid for ``LIFETIME`` from now."""
    row, pools = await _guarded(services, actor, invitation_id)
    now = services.clock.now()
    if row.accepted_at is not None or row.revoked_at is not None:
        raise Conflict("invitation.developer_closed")
    if row.sent_count >= MAX_SENDS:
        raise Conflict("invitation.developer_resend_limit", limit=MAX_SENDS)
    token = secrets_.new_token()
    async with services.db.write() as session:
        done = await session.execute(
            update(DeveloperInvitation)
            .where(
                DeveloperInvitation.id == row.id,
                DeveloperInvitation.sent_count == row.sent_count,
                DeveloperInvitation.accepted_at.is_(None),
                DeveloperInvitation.revoked_at.is_(None),
            )
            .values(
                token_hash=token_hash(services.settings.secret_key, token),
                sent_count=row.sent_count + 1,
                sent_at=now,
                expires_at=now + LIFETIME,
            )
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict("invitation.developer_closed")  # a concurrent resend or accept
        fresh = await session.get(DeveloperInvitation, row.id, populate_existing=True)
        assert fresh is not None
        scope_name = await _scope_name(session, fresh, pools)
        await _mail(services, session, fresh, pools, token, scope_name, now)
        await _audit(session, actor, "developer_invitation.resend", fresh, pools, now)
    return _view(fresh, pools, now)


async def revoke_invitation(services: Services, actor: Actor, invitation_id: str) -> InvitationView:
    row, pools = await _guarded(services, actor, invitation_id)
    now = services.clock.now()
    if row.accepted_at is not None:
        raise Conflict("invitation.developer_closed")
    async with services.db.write() as session:
        await session.execute(
            update(DeveloperInvitation)
            .where(DeveloperInvitation.id == row.id, DeveloperInvitation.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        fresh = await session.get(DeveloperInvitation, row.id, populate_existing=True)
        assert fresh is not None
        await _audit(session, actor, "developer_invitation.revoke", fresh, pools, now)
    return _view(fresh, pools, now)


# --- the developer's side -----------------------------------------------------------------


async def open_link(services: Services, token: str) -> InvitationLink:
    """The live invitation of this link; ``NotFound("invitation")`` for a link that never
    was, ``Conflict`` (``invitation.developer_used`` / ``_expired`` / ``_revoked``) for one
    that no longer works."""
    row, pools = await _by_token(services, token)
    async with services.db.read() as session:
        scope_name = await _scope_name(session, row, pools)
    return InvitationLink(email=row.email, name=row.name, scope_name=scope_name)


async def accept(services: Services, token: str, password: str, name: str) -> Principal:
    """Create the developer with this password and close the invitation, once; returns
    the principal to start a session for. Password problems are ``InvalidInput`` on
    ``password`` (the admins' policy)."""
    row, _ = await _by_token(services, token)
    problems = Problems()
    name = name.strip()[:200] or row.name
    context = PasswordContext(identifier=row.email, attributes=(name,))
    for problem in ADMIN_PASSWORD_POLICY.validate(password, context):
        problems.by_field.setdefault("password", []).append(problem)
    problems.raise_if_any()
    secret_hash = await services.hashing.hash(password)
    now = services.clock.now()
    principal_id = secrets_.new_id()
    try:
        async with services.db.write() as session:
            claimed = await session.execute(
                update(DeveloperInvitation)
                .where(
                    DeveloperInvitation.id == row.id,
                    DeveloperInvitation.token_hash == row.token_hash,
                    DeveloperInvitation.accepted_at.is_(None),
                    DeveloperInvitation.revoked_at.is_(None),
                    DeveloperInvitation.expires_at > now,
                )
                .values(accepted_at=now, principal_id=principal_id)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("invitation.developer_used")
            # The pools as they are now, in the transaction that claims the link.
            pools = (await _pools_of(session, [row.id])).get(row.id, [])
            if not pools and row.workspace_id is None:
                raise Conflict("invitation.developer_revoked")
            person = AdminPrincipal(
                id=principal_id,
                tenant_id=row.tenant_id,
                pool_id=None,
                workspace_id=row.workspace_id,
                kind="person",
                role="developer",
                name=name,
                email=row.email,
                secret_hash=secret_hash,
                created_by=row.invited_by,
                created_at=now,
                last_used_at=now,
                revoked_at=None,
            )
            session.add(person)
            await session.flush()
            await store_pools(session, principal_id, pools)
            principal = principal_of(person, frozenset(pools))
            await _audit(
                session, Actor(principal=principal), "developer_invitation.accept", row, pools, now
            )
    except IntegrityError:
        # The address has an administrator of this tenant already: it signs in with that.
        raise Conflict("invitation.developer_taken") from None
    return principal


# --- helpers ------------------------------------------------------------------------------


async def _by_token(services: Services, token: str) -> tuple[DeveloperInvitation, list[str]]:
    if not token or len(token) > 128:
        raise NotFound("invitation")
    hashed = token_hash(services.settings.secret_key, token)
    async with services.db.read() as session:
        row = (
            await session.execute(
                select(DeveloperInvitation).where(DeveloperInvitation.token_hash == hashed)
            )
        ).scalar_one_or_none()
        pools = (await _pools_of(session, [row.id])).get(row.id, []) if row is not None else []
    if row is None:
        raise NotFound("invitation")
    state = _state(row, services.clock.now())
    if state != "sent":
        raise Conflict(f"invitation.developer_{'used' if state == 'accepted' else state}")
    if not pools and row.workspace_id is None:
        # Every pool it named was deleted: nothing left to work on.
        raise Conflict("invitation.developer_revoked")
    return row, pools


async def _pools_of(session: AsyncSession, invitation_ids: list[str]) -> dict[str, list[str]]:
    if not invitation_ids:
        return {}
    rows = await session.execute(
        select(DeveloperInvitationPool.invitation_id, DeveloperInvitationPool.pool_id)
        .where(DeveloperInvitationPool.invitation_id.in_(invitation_ids))
        .order_by(DeveloperInvitationPool.pool_id)
    )
    found: dict[str, list[str]] = {}
    for invitation_id, pool_id in rows:
        found.setdefault(invitation_id, []).append(pool_id)
    return found


async def _guarded(
    services: Services, actor: Actor, invitation_id: str
) -> tuple[DeveloperInvitation, list[str]]:
    async with services.db.read() as session:
        row = await session.get(DeveloperInvitation, invitation_id[:36])
        pools = (await _pools_of(session, [row.id])).get(row.id, []) if row is not None else []
    if row is None or row.tenant_id != actor.tenant_id:
        await guard(
            services,
            actor,
            "developers.invite",
            target_type="developer_invitation",
            target_id=invitation_id,
        )
        raise NotFound("invitation")
    await _guard_pools(services, actor, pools, row.id)
    if not _reaches(actor, row, pools):
        # A pool admin never sees a workspace's invitations, nor one that lost its pools.
        raise NotFound("invitation")
    return row, pools


def _email(raw: str, problems: Problems) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        problems.add("email", "form.email_invalid")
        return ""


async def _check_scope(
    session: AsyncSession,
    actor: Actor,
    new: NewDeveloperInvitation,
    pools: list[str],
    problems: Problems,
) -> tuple[list[str], str]:
    """The pools (sorted) and the scope's name for the email; problems when the scope is
    not pools or one workspace the inviter reaches."""
    field = "pool_ids" if new.pool_ids is not None else "pool_id"
    if bool(pools) == (new.workspace_id is not None):
        problems.add(field, "admin.role_scope", role="developer", scope=SCOPE_WORDS)
        return [], ""
    if pools:
        checked = await check_pools(session, actor.tenant_id, pools, problems, field)
        return checked, await _names(session, checked)
    assert new.workspace_id is not None
    workspace = await workspace_of_tenant(session, actor.tenant_id, new.workspace_id)
    if workspace is None or not sees_workspace(actor.principal, new.workspace_id):
        problems.add("workspace_id", "brand.unknown_workspace")
        return [], ""
    return [], workspace.name


async def _names(session: AsyncSession, pools: list[str]) -> str:
    rows = await session.execute(select(Pool.id, Pool.name).where(Pool.id.in_(pools)))
    names = {pool_id: name for pool_id, name in rows}
    return ", ".join(names.get(p, p) for p in pools)


async def _scope_name(session: AsyncSession, row: DeveloperInvitation, pools: list[str]) -> str:
    if pools:
        return await _names(session, pools)
    workspace = await session.get(Workspace, row.workspace_id or "")
    return workspace.name if workspace is not None else ""


async def _pool_view(services: Services, pool_id: str | None) -> PoolView | None:
    """The pool whose theme the email wears; None (the default theme) for a workspace."""
    if pool_id is None:
        return None
    try:
        return await services.pools.get(pool_id)
    except PoolNotFound:
        return None


async def _mail(
    services: Services,
    session: AsyncSession,
    row: DeveloperInvitation,
    pools: list[str],
    token: str,
    scope_name: str,
    now: datetime,
) -> None:
    tenant = await session.get(Tenant, row.tenant_id)
    hours = max(1, math.ceil((row.expires_at - now).total_seconds() / 3600))
    envelope = services.composer.developer_invitation(
        row.email,
        link=accept_link(services, token),
        hours=hours,
        tenant=tenant.name if tenant is not None else row.tenant_id,
        scope=scope_name,
        inviter=row.invited_by_name,
        # The first pool's theme dresses the email (the default theme for a workspace).
        pool=await _pool_view(services, pools[0] if pools else None),
    )
    await enqueue_email(
        session, services.clock, envelope, services.settings.mail_per_address_per_hour
    )


def _state(row: DeveloperInvitation, now: datetime) -> State:
    if row.accepted_at is not None:
        return "accepted"
    if row.revoked_at is not None:
        return "revoked"
    return "expired" if row.expires_at <= now else "sent"


def _view(row: DeveloperInvitation, pools: list[str], now: datetime) -> InvitationView:
    return InvitationView(
        id=row.id,
        email=row.email,
        name=row.name,
        pool_id=pools[0] if len(pools) == 1 else None,
        pool_ids=list(pools),
        workspace_id=row.workspace_id,
        state=_state(row, now),
        invited_by=row.invited_by_name,
        sent_count=row.sent_count,
        created_at=row.created_at,
        sent_at=row.sent_at,
        expires_at=row.expires_at,
        accepted_at=row.accepted_at,
        revoked_at=row.revoked_at,
    )


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: DeveloperInvitation,
    pools: list[str],
    now: datetime,
) -> None:
    # The address is in the invitation row; the audit log keeps the id and the scope. A
    # one-pool invitation is filed under its pool (its pool admins read it there).
    details: dict[str, object] = {"workspace_id": row.workspace_id} if row.workspace_id else {}
    if len(pools) > 1:
        details["pool_ids"] = pools
    await audit.record(
        session,
        actor,
        action,
        target_type="developer_invitation",
        target_id=row.id,
        pool_id=pools[0] if len(pools) == 1 else None,
        now=now,
        details=details,
    )


async def _guard_pools(
    services: Services, actor: Actor, pools: list[str], invitation_id: str | None = None
) -> None:
    """``developers.invite`` on each pool (on the tenant when there is none, a workspace's
    invitation): one outside the actor's scope is a 404, audited."""
    checks: list[str | None] = [*pools] or [None]
    for pool_id in checks:
        await guard(
            services,
            actor,
            "developers.invite",
            pool_id=pool_id,
            target_type="developer_invitation",
            target_id=invitation_id,
        )
