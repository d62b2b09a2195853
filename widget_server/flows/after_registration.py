"""What the done step of a registration ("You're all set") offers next, as the partner
sets it per pool and per app (an app's setting wins for a registration through it)::

    action      the done step shows
    none        the notice alone (the default)
    sign_in     "Sign in": the pool's sign-in form in the same frame, for the same app
                and embedding page
    continue    "Continue": a link to ``continue_url``, opened in the partner's window
    close       "Close": posts ``{type: "close"}`` to the embedding page, which removes
                the widget (the embedding contract, docs/architecture.md)

``continue_url`` must be an absolute https address (http only on localhost) without
credentials or fragment, on an origin the widget already trusts: one of the pool's
allowed origins, or for an app one of its origins or exactly one of its redirect URIs.
It is checked when saved and again when drawn (``trusted_url``), so a URL whose origin
was removed since is never offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import select

from widget_server.models import App, Pool
from widget_server.services import Services

Action = Literal["none", "sign_in", "continue", "close"]
MAX_URL = 2000


class AfterRegistration(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    action: Action = "none"
    #: Where ``continue`` goes; required for it, ignored otherwise.
    continue_url: Annotated[str, msgspec.Meta(max_length=MAX_URL)] | None = None


NOTHING = AfterRegistration()


def url_problem(url: str | None) -> str | None:
    """The message id of what is wrong with ``url`` as a continue address, or None."""
    if not url:
        return "after.url_required"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "after.url_invalid"
    local = parts.hostname in {"localhost", "127.0.0.1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        return "after.url_invalid"
    if not parts.hostname or parts.username or parts.password is not None or parts.fragment:
        return "after.url_invalid"
    return None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def trusted_url(url: str | None, origins: Iterable[str], redirect_uris: Iterable[str] = ()) -> bool:
    """Whether ``url`` may be offered: well-formed and on a trusted origin (or exactly a
    registered redirect URI)."""
    if url is None or url_problem(url) is not None:
        return False
    return url in set(redirect_uris) or origin_of(url) in {o.lower() for o in origins}


def check(
    setting: AfterRegistration, origins: Iterable[str], redirect_uris: Iterable[str] = ()
) -> str | None:
    """The message id refusing ``setting`` (on ``after_registration.continue_url``)."""
    if setting.action != "continue":
        return None
    problem = url_problem(setting.continue_url)
    if problem is None and not trusted_url(setting.continue_url, origins, redirect_uris):
        problem = "after.url_untrusted"
    return problem


def stored(setting: AfterRegistration) -> dict[str, Any]:
    """As the ``after_registration`` column holds it."""
    url = setting.continue_url if setting.action == "continue" else None
    return {"action": setting.action, "continue_url": url}


def from_column(value: Mapping[str, Any] | None) -> AfterRegistration | None:
    if not value:
        return None
    try:
        return msgspec.convert(dict(value), AfterRegistration)
    except msgspec.ValidationError:
        return None


async def after_for(services: Services, pool_id: str, app_id: str | None) -> AfterRegistration:
    """The setting that applies to a registration in ``pool_id`` (through ``app_id``),
    with a ``continue`` whose URL is no longer trusted dropped to ``none``."""
    async with services.db.read() as session:
        pool = (
            await session.execute(
                select(Pool.after_registration, Pool.allowed_origins).where(Pool.id == pool_id)
            )
        ).first()
        app = None
        if app_id is not None:
            app = (
                await session.execute(
                    select(App.after_registration, App.allowed_origins, App.redirect_uris).where(
                        App.id == app_id, App.revoked_at.is_(None)
                    )
                )
            ).first()
    if app is not None and (setting := from_column(app[0])) is not None:
        return setting if check(setting, app[1] or (), app[2] or ()) is None else NOTHING
    if pool is not None and (setting := from_column(pool[0])) is not None:
        return setting if check(setting, pool[1] or ()) is None else NOTHING
    return NOTHING
