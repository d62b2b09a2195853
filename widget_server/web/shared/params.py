"""Parameters the widget's and the account portal's routes share, and the pool they all
start from: ``pool`` is a router-level dependency (``provide_pool``), and an unknown pool
is answered once, by the router's exception handler, not by every handler."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter

from widget_server.pools import PoolView
from widget_server.web.shared.context import web_context

PoolId = Annotated[str, PathParameter(max_length=64)]
FlowParam = Annotated[str | None, QueryParameter(name="flow", max_length=64)]
#: The embedding page's origin, as embed.js passes it (checked against the pool's list).
OriginParam = Annotated[str | None, QueryParameter(name="parent_origin", max_length=255)]


async def provide_pool(request: Request[Any, Any, Any], pool_id: PoolId) -> PoolView:
    """The pool named in the path (cached per version), or ``PoolNotFound``."""
    return await web_context(request).services.pools.get(pool_id)


POOL = {"pool": Provide(provide_pool)}
#: A handler's ``pool`` parameter: the pool of the path, from ``provide_pool``.
CurrentPool = NamedDependency[PoolView]
