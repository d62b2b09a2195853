"""Parameters the widget's and the account portal's routes share, and the pool they all
start from: ``pool`` is a router-level dependency (``provide_pool``), and an unknown pool
is answered once, by the router's exception handler, not by every handler."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import PathParameter, QueryParameter

from widget_server.errors import PoolNotFound
from widget_server.pools import PoolView
from widget_server.web.shared.context import web_context

MAX_POOL_ID = 64
PoolId = Annotated[str, PathParameter(max_length=MAX_POOL_ID)]
FlowParam = Annotated[str | None, QueryParameter(name="flow", max_length=64)]
#: The embedding page's origin, as embed.js passes it (checked against the pool's list).
OriginParam = Annotated[str | None, QueryParameter(name="parent_origin", max_length=255)]
#: The app (OAuth client id) an embedded login or registration is for.
ClientParam = Annotated[str | None, QueryParameter(name="client_id", max_length=64)]


async def provide_pool(request: Request[Any, Any, Any]) -> PoolView:
    """The pool named in the path (cached per version), or ``PoolNotFound``.

    It reads ``pool_id`` off the matched route rather than declaring it as a parameter:
    a declared one is parsed through a signature model on every request, which made a
    form GET cost ~15 % more CPU (measured in-process, 86 -> 100 us)."""
    pool_id = request.path_params["pool_id"]
    if len(pool_id) > MAX_POOL_ID:
        raise PoolNotFound()
    return await web_context(request).services.pools.get(pool_id)


POOL = {"pool": Provide(provide_pool, use_cache=False)}
#: A handler's ``pool`` parameter: the pool of the path, from ``provide_pool``.
CurrentPool = NamedDependency[PoolView]
