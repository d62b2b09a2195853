"""``/healthz``: the process answers (for load balancers and orchestrators)."""

from __future__ import annotations

from litestar import get
from litestar.enums import MediaType


@get("/healthz", media_type=MediaType.TEXT)
async def healthz() -> str:
    return "ok"


HANDLERS = [healthz]
