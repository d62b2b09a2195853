"""``/metrics``: Prometheus's text format, for a scraper holding the metrics token.

Off unless ``WIDGET_METRICS_TOKEN`` is set: without a token the path answers 404, as if
it did not exist, so a deployment never exposes it by accident. With one, a scrape must
send ``Authorization: Bearer <token>`` (compared in constant time); anything else gets
401. Before answering, the outbox's backlog is read from the database (one small
query), so its gauges are as fresh as the scrape.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException

from widget_server.observe.metrics import CONTENT_TYPE
from widget_server.observe.scrape import refresh
from widget_server.secrets_ import hmac_equal
from widget_server.web.shared.context import web_context


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = web_context(request).services
    token = services.settings.metrics_token
    if not token:
        raise NotFoundException()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac_equal(given.strip(), token):
        return Response(
            b"metrics: send Authorization: Bearer <WIDGET_METRICS_TOKEN>\n",
            status_code=401,
            media_type="text/plain",
            headers={"www-authenticate": 'Bearer realm="metrics"', "cache-control": "no-store"},
        )
    await refresh(services)
    body = services.telemetry.metrics.exposition()
    return Response(
        body,
        media_type=CONTENT_TYPE,
        headers={"cache-control": "no-store"},
    )


HANDLERS = [metrics]
