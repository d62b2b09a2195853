"""Partner developers get in by invitation: an operator (or a pool admin, for its pool)
invites an email address, scoped to one pool or one workspace; the email carries a
single-use, expiring link; the developer chooses a password there and is signed in.

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
from widget_server.admin.access import Actor, Principal, principal_of, sees_workspace
from widget_server.admin.guard import guard
from widget_server.admin.principals import ADMIN_PASSWORD_POLICY
from widget_server.admin.validation import Problems
from widget_server.branding.workspaces import workspace_of_tenant
from widget_server.errors import Conflict, NotFound, PoolNotFound
from widget_server.mail.outbox import enqueue_email
from widget_server.models import AdminPrincipal, DeveloperInvitation, Pool, Tenant, Workspace
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
    #: Exactly one of the two: the developer's pool, or its workspace (tenant-wide
    #: inviters only).
    pool_id: str | None = None
    workspace_id: str | None = None


class InvitationView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    name: str
    pool_id: str | None
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
    await guard(
        services,
        actor,
        "developers.invite",
        pool_id=new.pool_id,
        target_type="developer_invitation",
    )
    problems = Problems()
    email = _email(new.email, problems)
    async with services.db.read() as session:
        scope_name = await _check_scope(session, actor, new, problems)
    problems.raise_if_any()
    now = services.clock.now()
    token = secrets_.new_token()
    row = DeveloperInvitation(
        id=secrets_.new_id(),
        tenant_id=actor.tenant_id,
        email=email,
        name=new.name.strip(),
        pool_id=new.pool_id,
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
        await _mail(services, session, row, token, scope_name, now)
        await _audit(session, actor, "developer_invitation.create", row, now)
    return _view(row, now)


async def list_invitations(services: Services, actor: Actor) -> list[InvitationView]:
    await guard(services, actor, "developers.invite", target_type="developer_invitation")
    now = services.clock.now()
    async with services.db.read() as session:
        query = (
            select(DeveloperInvitation)
            .where(DeveloperInvitation.tenant_id == actor.tenant_id)
            .order_by(DeveloperInvitation.created_at.desc(), DeveloperInvitation.id)
        )
        if actor.principal.pool_id is not None:
            query = query.where(DeveloperInvitation.pool_id == actor.principal.pool_id)
        rows = (await session.execute(query)).scalars().all()
    return [_view(r, now) for r in rows]


async def resend_invitation(services: Services, actor: Actor, invitation_id: str) -> InvitationView:
    """A new link (the previous one stops working) valid for ``LIFETIME`` from now."""
    row = await _guarded(services, actor, invitation_id)
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
        scope_name = await _scope_name(session, fresh)
        await _mail(services, session, fresh, token, scope_name, now)
        await _audit(session, actor, "developer_invitation.resend", fresh, now)
    return _view(fresh, now)


async def revoke_invitation(services: Services, actor: Actor, invitation_id: str) -> InvitationView:
    row = await _guarded(services, actor, invitation_id)
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
        await _audit(session, actor, "developer_invitation.revoke", fresh, now)
    return _view(fresh, now)


# --- the developer's side -----------------------------------------------------------------


async def open_link(services: Services, token: str) -> InvitationLink:
    """The live invitation of this link; ``NotFound("invitation")`` for a link that never
    was, ``Conflict`` (``invitation.developer_used`` / ``_expired`` / ``_revoked``) for one
    that no longer works."""
    row = await _by_token(services, token)
    async with services.db.read() as session:
        scope_name = await _scope_name(session, row)
    return InvitationLink(email=row.email, name=row.name, scope_name=scope_name)


async def accept(services: Services, token: str, password: str, name: str) -> Principal:
    """Create the developer with this password and close the invitation, once; returns
    the principal to start a session for. Password problems are ``InvalidInput`` on
    ``password`` (the admins' policy)."""
    row = await _by_token(services, token)
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
            person = AdminPrincipal(
                id=principal_id,
                tenant_id=row.tenant_id,
                pool_id=row.pool_id,
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
            principal = principal_of(person)
            await _audit(
                session, Actor(principal=principal), "developer_invitation.accept", row, now
            )
    except IntegrityError:
        # The address has an administrator of this tenant already: it signs in with that.
        raise Conflict("invitation.developer_taken") from None
    return principal


# --- helpers ------------------------------------------------------------------------------


async def _by_token(services: Services, token: str) -> DeveloperInvitation:
    if not token or len(token) > 128:
        raise NotFound("invitation")
    hashed = token_hash(services.settings.secret_key, token)
    async with services.db.read() as session:
        row = (
            await session.execute(
                select(DeveloperInvitation).where(DeveloperInvitation.token_hash == hashed)
            )
        ).scalar_one_or_none()
    if row is None:
        raise NotFound("invitation")
    state = _state(row, services.clock.now())
    if state != "sent":
        raise Conflict(f"invitation.developer_{'used' if state == 'accepted' else state}")
    return row


async def _guarded(services: Services, actor: Actor, invitation_id: str) -> DeveloperInvitation:
    async with services.db.read() as session:
        row = await session.get(DeveloperInvitation, invitation_id[:36])
    if row is None or row.tenant_id != actor.tenant_id:
        await guard(
            services,
            actor,
            "developers.invite",
            target_type="developer_invitation",
            target_id=invitation_id,
        )
        raise NotFound("invitation")
    await guard(
        services,
        actor,
        "developers.invite",
        pool_id=row.pool_id,
        target_type="developer_invitation",
        target_id=row.id,
    )
    if row.workspace_id is not None and actor.principal.pool_id is not None:
        raise NotFound("invitation")  # a pool admin never sees a workspace's invitations
    return row


def _email(raw: str, problems: Problems) -> str:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        problems.add("email", "form.email_invalid")
        return ""


async def _check_scope(
    session: AsyncSession, actor: Actor, new: NewDeveloperInvitation, problems: Problems
) -> str:
    """The scope's name for the email; problems when it is not exactly one pool or one
    workspace the inviter reaches."""
    if (new.pool_id is None) == (new.workspace_id is None):
        problems.add(
            "pool_id", "admin.role_scope", role="developer", scope="one pool or one workspace"
        )
        return ""
    if new.pool_id is not None:
        pool = await session.get(Pool, new.pool_id[:64])
        return pool.name if pool is not None else ""  # guard has checked the pool
    assert new.workspace_id is not None
    workspace = await workspace_of_tenant(session, actor.tenant_id, new.workspace_id)
    if workspace is None or not sees_workspace(actor.principal, new.workspace_id):
        problems.add("workspace_id", "brand.unknown_workspace")
        return ""
    return workspace.name


async def _scope_name(session: AsyncSession, row: DeveloperInvitation) -> str:
    if row.pool_id is not None:
        pool = await session.get(Pool, row.pool_id)
        return pool.name if pool is not None else row.pool_id
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
        pool=await _pool_view(services, row.pool_id),
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


def _view(row: DeveloperInvitation, now: datetime) -> InvitationView:
    return InvitationView(
        id=row.id,
        email=row.email,
        name=row.name,
        pool_id=row.pool_id,
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
    session: AsyncSession, actor: Actor, action: str, row: DeveloperInvitation, now: datetime
) -> None:
    # The address is in the invitation row; the audit log keeps the id and the scope.
    await audit.record(
        session,
        actor,
        action,
        target_type="developer_invitation",
        target_id=row.id,
        pool_id=row.pool_id,
        now=now,
        details={"workspace_id": row.workspace_id} if row.workspace_id else {},
    )
