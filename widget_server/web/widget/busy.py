"""The widget's answer when its password hash is refused for load (``Overloaded`` from
``HashingPool.admit``, decided before the step is read): fast, honest about the wait,
and what the person typed stays where it is.

- With JavaScript (an htmx request): 503 with ``Retry-After`` (the person's real place
  in line, ``passwords/admission.py``), ``HX-Reswap: none`` so that htmx leaves the form
  and everything typed in it, password included, untouched, and a small notice that
  ``static/widget.js`` puts above the form with a countdown before it sends the form again
  by itself (``Retry-After`` plus a random 0-10 % of it plus up to 1 s, so the people
  refused together do not come back together). The notice is rendered once per pool
  version; a refusal only fills in the seconds: no template, no validation, no database.
- Without JavaScript (a plain form post): the page again with what may be kept (never
  the password) and when to send it again (``busy.registration_later``), status 503 and
  the same ``Retry-After``. The handlers draw it, since it needs the flow.
"""

from __future__ import annotations

from typing import Literal

from litestar import Response

from widget_server.messages import Msg, msg
from widget_server.pools import PoolView
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.render import slot
from widget_server.web.shared.responses import html

Kind = Literal["registration", "login"]


def busy_notice(ctx: WebContext, pool: PoolView, kind: Kind, retry_after: int) -> Response[str]:
    """The 503 an htmx request gets: the themed notice alone (see the module doc)."""

    def draw() -> str:
        theme = ctx.renderer.theme(pool)
        return ctx.renderer.page(
            "flows/busy.html",
            message_id=f"busy.{kind}",
            seconds=slot("seconds"),
            **ctx.renderer.texts(theme),
        )

    seconds = str(retry_after)
    body = ctx.renderer.cached(("busy", kind, pool.id, pool.version), draw, seconds=seconds)
    return html(pool, body, 503, **{"retry-after": seconds, "hx-reswap": "none"})


def retry_headers(retry_after: int) -> dict[str, str]:
    return {"retry-after": str(retry_after)}


def later(kind: Kind, retry_after: int) -> Msg:
    """What the page without JavaScript says above the form: when to send it again."""
    return msg(f"busy.{kind}_later", "info", seconds=retry_after)
