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
    developer       one pool or one workspace: its apps (register, change, rotate, revoke)
                    and webhook endpoints, through the developer portal; never users

Scope is checked before role: an object outside the caller's scope is ``NotFound``
(404), exactly like one that does not exist, so a pool admin learns nothing about other
pools, and a workspace's designer nothing about other workspaces. Inside the scope, an
action the role lacks is ``Forbidden`` (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec
from sqlalchemy import update

from widget_server import secrets_
from widget_server.db import Database
from widget_server.errors import Forbidden, NotAuthenticated, NotFound
from widget_server.models import AdminPrincipal

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


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """A principal making one request: what the audit log records as "who" and "from where"."""

    principal: Principal
    ip: str | None = None

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id


def principal_of(row: AdminPrincipal) -> Principal:
    return Principal(
        id=row.id,
        tenant_id=row.tenant_id,
        pool_id=row.pool_id,
        role=row.role,  # type: ignore[arg-type]
        kind=row.kind,  # type: ignore[arg-type]
        name=row.name,
        workspace_id=row.workspace_id,
    )


def sees_pool(principal: Principal, pool_id: str, workspace_id: str | None = None) -> bool:
    """Whether ``pool_id`` (of ``workspace_id``) is inside the principal's scope."""
    if principal.pool_id is not None:
        return principal.pool_id == pool_id
    return principal.workspace_id is None or principal.workspace_id == workspace_id


def sees_workspace(principal: Principal, workspace_id: str) -> bool:
    """Pool-scoped principals see no workspace as a whole."""
    if principal.pool_id is not None:
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
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        # At most one write a minute per key: "last used" is for humans, not accounting.
        async with db.write() as session:
            await session.execute(
                update(AdminPrincipal).where(AdminPrincipal.id == row.id).values(last_used_at=now)
            )
    return principal_of(row)
