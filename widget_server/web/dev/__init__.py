"""Pages for a first look and for development: the index of pools and the dev mailbox."""

from __future__ import annotations

from litestar import Router

from widget_server.web.dev import pages


def router() -> Router:
    return Router(path="/", route_handlers=pages.HANDLERS, include_in_schema=False)
