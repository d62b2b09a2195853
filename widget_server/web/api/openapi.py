"""The admin API's OpenAPI document, served as JSON at ``/api/admin/openapi.json``."""

from __future__ import annotations

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from widget_server.web.api.base import API_PATH


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Widget Server admin API",
        version="1.0",
        description=(
            "Pools, schemas, administrators, users, apps, webhook endpoints and the audit log. "
            "Authenticate with "
            "`Authorization: Bearer wsk_…` (an API key from `widget-server issue-api-key` or "
            "`POST /api/admin/admins`). Objects outside the key's scope answer 404."
        ),
        path=API_PATH,
        render_plugins=[JsonRenderPlugin(path="/openapi.json")],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="wsk_… API key")
            }
        ),
        security=[{"apiKey": []}],
    )
