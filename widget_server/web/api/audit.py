"""``/api/admin/audit`` and ``/api/admin/pools/{pool_id}/audit``: who did what, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.params import PathParameter, QueryParameter

from widget_server.admin import audit
from widget_server.admin.audit import AuditEntry
from widget_server.admin.guard import guard
from widget_server.web.api.base import CurrentActor, api_services, errors

TAGS = ["audit"]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]
# Audit ids are 32-bit integers on PostgreSQL.
Before = Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)]


@get("/pools/{pool_id:str}/audit", responses=errors(404), tags=TAGS)
async def pool_audit(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    pool_id: Annotated[str, PathParameter(max_length=64)],
    before: Before = None,
    limit: Limit = 50,
    target_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> list[AuditEntry]:
    """The pool's audit log; page with ``before`` = the smallest id of the previous page."""
    services = api_services(request)
    await guard(services, actor, "audit.read", pool_id=pool_id, target_type="audit")
    return await audit.events(
        services.db,
        actor.tenant_id,
        pool_id=pool_id,
        target_id=target_id,
        before_id=before,
        limit=limit,
    )


@get("/audit", responses=errors(403), tags=TAGS)
async def tenant_audit(
    request: Request[Any, Any, Any],
    actor: CurrentActor,
    before: Before = None,
    limit: Limit = 50,
) -> list[AuditEntry]:
    """The whole tenant's audit log (tenant admins)."""
    services = api_services(request)
    await guard(services, actor, "admins.read", target_type="audit")
    return await audit.events(services.db, actor.tenant_id, before_id=before, limit=limit)


HANDLERS = [pool_audit, tenant_audit]
