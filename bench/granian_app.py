"""ASGI factory for running the unchanged app under granian (bench only).

``widget-server serve`` hard-wires uvicorn; granian needs an import target. This builds
exactly what the CLI builds: ``create_app(Settings.from_env())`` (WIDGET_* variables,
WIDGET_SECRET_KEY must be set by the caller).
"""

from __future__ import annotations

import logging

from litestar import Litestar

from widget_server.settings import Settings
from widget_server.web.app import create_app


def app() -> Litestar:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mail.log", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return create_app(Settings.from_env())
