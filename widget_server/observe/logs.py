"""Structured logs: one JSON object per line, each with the request id of the request it
belongs to (python-json-logger's formatter on the standard ``logging`` module, which
every library here already logs through).

The request id comes from ``web/shared/telemetry.py``: a trusted balancer's
``X-Request-ID`` (only from ``WIDGET_TRUSTED_PROXIES``, and only of a safe shape), else
a new one; it goes back in the response's ``X-Request-ID``, so a user's report, the
balancer's log and ours meet on one id.

What is never logged: passwords, codes, tokens, keys, email addresses and phone numbers.
The code logs users by id only; ``tests/observe/test_logs_secrets.py`` drives every flow
with known secrets at DEBUG and looks for them in the output. Two guards stay on
whatever the level: SQL logging (SQLAlchemy logs statement *parameters* once its logger
is at INFO, which a root logger at DEBUG would turn on) is held at WARNING, and every
message passes ``redact`` (email addresses, e.g. in an SMTP server's error, become
``<email>``).
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

#: The id of the request this code runs for ("-" outside any request).
REQUEST_ID: ContextVar[str] = ContextVar("widget_request_id", default="-")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Loggers that write data they are given (SQL parameters) once enabled: held at WARNING.
QUIET = ("sqlalchemy.engine", "sqlalchemy.pool", "aiosqlite", "asyncpg", "mail.log")
FORMATS = ("json", "text")
_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def redact(text: str) -> str:
    return _EMAIL.sub("<email>", text)


class RequestContext(logging.Filter):
    """Adds ``request_id`` to every record and masks email addresses in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def handler(log_format: str, stream: Any = None) -> logging.Handler:
    """A handler writing ``json`` (one object per line) or ``text`` to ``stream``."""
    if log_format not in FORMATS:
        raise ValueError(f"WIDGET_LOG_FORMAT: {log_format!r} is not one of {', '.join(FORMATS)}")
    out = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        out.setFormatter(
            JsonFormatter(_FIELDS, rename_fields={"levelname": "level", "name": "logger"})
        )
    else:
        out.setFormatter(logging.Formatter("%(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    out.addFilter(RequestContext())
    return out


def configure(log_format: str = "json", level: str = "INFO", stream: Any = None) -> None:
    """Send every logger's records to one handler on the root logger (replacing any)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(log_format, stream))
    root.setLevel(level.upper())
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's loggers keep handlers of their own unless told otherwise; ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
