"""Who is asking, and what their role lets them do.

Roles, most powerful first::

    tenant_admin    every pool of the tenant; pools, schemas, administrators, themes,
                    apps and webhook endpoints
    brand_designer  the tenant or one workspace: themes (edit, publish, assign), brand
                    assets, and reading workspaces; nothing about users, schemas,
                    policies or keys
    pool_admin      one pool: its users (create, edit, lifecycle), its webhook endpoints,
                    inviting developers to it,
                    read its settings and audit; its pool-level theme and password policy
                    when the tenant lets the pool's admins (``branding/access.py``,
                    ``admin/pools.py``)
    pool_viewer     one pool: read its users, settings, webhook endpoints and audit log
    developer       one or more pools, or one workspace: their apps (register, change,
                    rotate, revoke) and webhook endpoints, through the developer portal;
                    never users

A principal's pools are ``pool_scope``: a pool role's one ``pool_id``, a developer's set
(``admin_principal_pools``, loaded with the principal by ``load_principal``). A developer
is never tenant-wide: with no workspace and no pool left it reaches nothing.

Scope is checked before role: an object outside the caller's scope is ``NotFound``
(404), exactly like one that does not exist, so a pool admin learns nothing about other
pools, and a workspace's designer nothing about other workspaces. Inside the scope, an
action the role lacks is ``Forbidden`` (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from widget_server import secrets_
from widget_server.db import Database
from widget_server.errors import Forbidden, NotAuthenticated, NotFound
from widget_server.models import AdminPrincipal, AdminPrincipalPool

Role = Literal["tenant_admin", "brand_designer", "pool_admin", "pool_viewer", "developer"]
ROLES: tuple[Role, ...] = (
    "tenant_admin",
    "brand_designer",
    "pool_admin",
    "pool_viewer",
    "developer",
)
Action = Literal[
    "pools.read",
    "pools.write",
    "schemas.read",
    "schemas.write",
    "admins.read",
    "admins.write",
    "users.read",
    "users.write",
    "audit.read",
    # Apps (OAuth clients) span pools: tenant admins only.
    "apps.read",
    "apps.write",
    # The brand studio (widget_server/branding).
    "themes.read",
    "themes.write",
    "themes.publish",
    "themes.assign",
    "workspaces.read",
    "workspaces.write",
    # Webhook endpoints, their secrets, delivery logs, resends and test events. A pool's
    # endpoints need the pool in scope; an app's endpoints a tenant-wide principal.
    "webhooks.read",
    "webhooks.write",
    # Inviting partner developers (admin/developer_invitations.py): to the tenant's pools
    # and workspaces, or a pool admin to its own pool.
    "developers.invite",
]
_BRANDING: frozenset[Action] = frozenset(
    {"themes.read", "themes.write", "themes.publish", "themes.assign", "workspaces.read"}
)

_OPERATOR: frozenset[Action] = frozenset(
    {
        "pools.read",
        "pools.write",
        "schemas.read",
        "schemas.write",
        "admins.read",
        "admins.write",
        "users.read",
        "users.write",
        "audit.read",
        "apps.read",
        "apps.write",
        "workspaces.write",
        "webhooks.read",
        "webhooks.write",
        "developers.invite",
    }
)

PERMISSIONS: dict[Role, frozenset[Action]] = {
    "tenant_admin": _OPERATOR | _BRANDING,
    "brand_designer": _BRANDING,
    "pool_admin": frozenset(
        {
            "pools.read",
            "schemas.read",
            "users.read",
            "users.write",
            "audit.read",
            "webhooks.read",
            "webhooks.write",
            "developers.invite",
        }
    ),
    "pool_viewer": frozenset(
        {"pools.read", "schemas.read", "users.read", "audit.read", "webhooks.read"}
    ),
    # Apps of its pools (admin/apps.py keeps them to the scope), and their webhooks.
    "developer": frozenset(
        {"pools.read", "apps.read", "apps.write", "webhooks.read", "webhooks.write"}
    ),
}

API_KEY_PREFIX = "wsk_"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    tenant_id: str
    #: None: the whole tenant (or the workspace, when ``workspace_id`` is set).
    pool_id: str | None
    role: Role
    kind: Literal["person", "api_key"]
    name: str
    #: A brand designer or developer scoped to one workspace; None otherwise.
    workspace_id: str | None = None
    #: A developer's pools (with ``pool_id``, if set): see ``pool_scope``.
    pool_ids: frozenset[str] = frozenset()


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """A principal making one request: what the audit log records as "who" and "from where"."""

    principal: Principal
    ip: str | None = None

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


def principal_of(row: AdminPrincipal, pool_ids: frozenset[str] = frozenset()) -> Principal:
    """The principal of ``row``; a developer's ``pool_ids`` come from
    ``admin_principal_pools`` (``load_principal``). Without them a developer reaches no
    pool: a caller that forgets them narrows the scope, it never widens it."""
    return Principal(
        id=row.id,
        tenant_id=row.tenant_id,
        pool_id=row.pool_id,
        role=row.role,  # type: ignore[arg-type]
        kind=row.kind,  # type: ignore[arg-type]
        name=row.name,
        workspace_id=row.workspace_id,
        pool_ids=pool_ids,
    )


async def developer_pools(session: AsyncSession, principal_id: str) -> frozenset[str]:
    rows = await session.execute(
        select(AdminPrincipalPool.pool_id).where(AdminPrincipalPool.principal_id == principal_id)
    )
    return frozenset(rows.scalars())


async def load_principal(session: AsyncSession, row: AdminPrincipal) -> Principal:
    """``principal_of`` with a developer's pools (one more query, developers only)."""
    if row.role != "developer" or row.workspace_id is not None:
        return principal_of(row)
    return principal_of(row, await developer_pools(session, row.id))


def pool_scope(principal: Principal) -> frozenset[str] | None:
    """The pools ``principal`` is limited to; None when it is not limited to pools (the
    tenant, or one workspace). A developer without a workspace is always limited, to
    the empty set if its pools are gone."""
    limited = (
        principal.pool_id is not None
        or bool(principal.pool_ids)
        or (principal.role == "developer" and principal.workspace_id is None)
    )
    if not limited:
        return None
    mine = {principal.pool_id} if principal.pool_id is not None else set()
    return frozenset(principal.pool_ids | mine)


def tenant_wide(principal: Principal) -> bool:
    """Neither pools nor a workspace: the whole tenant."""
    return pool_scope(principal) is None and principal.workspace_id is None


def sees_pool(principal: Principal, pool_id: str, workspace_id: str | None = None) -> bool:
    """Whether ``pool_id`` (of ``workspace_id``) is inside the principal's scope."""
    pools = pool_scope(principal)
    if pools is not None:
        return pool_id in pools
    return principal.workspace_id is None or principal.workspace_id == workspace_id


def sees_workspace(principal: Principal, workspace_id: str) -> bool:
    """Pool-scoped principals see no workspace as a whole."""
    if pool_scope(principal) is not None:
        return False
    return principal.workspace_id is None or principal.workspace_id == workspace_id


def require(
    principal: Principal,
    action: Action,
    pool_id: str | None = None,
    *,
    workspace_id: str | None = None,
) -> None:
    """Raise unless ``principal`` may do ``action`` (on ``pool_id`` of ``workspace_id``,
    when given).

    The caller has already checked that the pool belongs to the principal's tenant.
    """
    if pool_id is not None and not sees_pool(principal, pool_id, workspace_id):
        raise NotFound("pool")
    if action not in PERMISSIONS[principal.role]:
        raise Forbidden(action)


def outranks_or_equals(principal: Principal, role: Role) -> bool:
    return ROLES.index(principal.role) <= ROLES.index(role)


# --- API keys -------------------------------------------------------------------------


def new_api_key(secret_key: str, principal_id: str) -> tuple[str, str]:
    """(the key shown once to its owner, the keyed hash we store)."""
    secret = secrets_.new_token()
    return f"{API_KEY_PREFIX}{principal_id}.{secret}", api_key_hash(
        secret_key, principal_id, secret
    )


def api_key_hash(secret_key: str, principal_id: str, secret: str) -> str:
    # A keyed hash, not argon2: the key has 192 random bits, so there is nothing to
    # slow-hash against, and every API request checks one.
    return secrets_.keyed_hash(secret_key, "api-key", principal_id, secret)


async def authenticate_api_key(
    db: Database, secret_key: str, token: str, now: datetime
) -> Principal:
    if not token.startswith(API_KEY_PREFIX) or len(token) > 200:
        raise NotAuthenticated()
    principal_id, _, secret = token[len(API_KEY_PREFIX) :].partition(".")
    if not principal_id or not secret:
        raise NotAuthenticated()
    async with db.read() as session:
        row = await session.get(AdminPrincipal, principal_id)
        # Compare even when the row is missing, so timing says nothing about which ids exist.
        stored = row.secret_hash if row is not None and row.kind == "api_key" else "0" * 64
        right = secrets_.matches(stored, secret_key, "api-key", principal_id, secret)
        if row is None or not right or row.revoked_at is not None or row.kind != "api_key":
            raise NotAuthenticated()
        principal = await load_principal(session, row)
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        # At most one write a minute per key: "last used" is for humans, not accounting.
        async with db.write() as session:
            await session.execute(
                update(AdminPrincipal).where(AdminPrincipal.id == row.id).values(last_used_at=now)
            )
    return principal
