"""Admin test helpers: principals made directly in the database, and an API client per key.

``make_key(role, pool_id=None)`` inserts an API-key principal of tenant ``acme`` (the demo
tenant every harness seeds) and returns an ``AdminClient`` sending its bearer key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from widget_server import secrets_
from widget_server.admin.access import Actor, Principal, Role, new_api_key
from widget_server.models import AdminPrincipal, AdminPrincipalPool

if TYPE_CHECKING:
    from tests.conftest import Harness

API = "/api/admin"


@dataclass
class AdminClient:
    h: Harness
    key: str
    principal: Principal

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def actor(self) -> Actor:
        return Actor(principal=self.principal, ip="127.0.0.1")

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers | kwargs.pop("headers", {})
        return await self.h.client.request(method, API + path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("PATCH", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("PUT", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("DELETE", path, **kwargs)


MakeKey = Callable[..., Awaitable[AdminClient]]


async def insert_key(
    h: Harness,
    role: Role,
    pool_id: str | None = None,
    tenant_id: str = "acme",
    name: str = "",
    pool_ids: tuple[str, ...] = (),
) -> AdminClient:
    """A developer's pools (``pool_id`` and ``pool_ids``) go where the product keeps them,
    ``admin_principal_pools``; other roles keep their one ``pool_id``."""
    principal_id = secrets_.new_id()
    key, secret_hash = new_api_key(h.settings.secret_key, principal_id)
    developer_pools = frozenset((*pool_ids, *((pool_id,) if pool_id else ())))
    if role == "developer":
        pool_id = None
    async with h.web.services.db.write() as session:
        session.add(
            AdminPrincipal(
                id=principal_id,
                tenant_id=tenant_id,
                pool_id=pool_id,
                kind="api_key",
                role=role,
                name=name or f"{role} key",
                email=None,
                secret_hash=secret_hash,
                created_by=None,
                created_at=h.clock.now(),
                last_used_at=None,
                revoked_at=None,
            )
        )
        if role == "developer":
            await session.flush()
            session.add_all(
                AdminPrincipalPool(principal_id=principal_id, pool_id=p) for p in developer_pools
            )
    principal = Principal(
        id=principal_id,
        tenant_id=tenant_id,
        pool_id=pool_id,
        role=role,
        kind="api_key",
        name=name or f"{role} key",
        pool_ids=developer_pools if role == "developer" else frozenset(),
    )
    return AdminClient(h, key, principal)
