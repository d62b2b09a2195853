"""The widget: what end users see inside the partner's iframe (registration, login and
its MFA step, recovery, invitations) and the theme stylesheet it loads."""

from __future__ import annotations

from litestar import Router

from widget_server.errors import PoolNotFound, UnknownApp
from widget_server.web.shared.pages import not_found
from widget_server.web.shared.params import POOL
from widget_server.web.widget import (
    frame_check,
    invitation,
    login,
    mfa,
    recovery,
    refused,
    registration,
    theme,
)


def router() -> Router:
    return Router(
        path="/",
        route_handlers=[
            *registration.HANDLERS,
            *login.HANDLERS,
            *mfa.HANDLERS,
            *recovery.HANDLERS,
            *invitation.HANDLERS,
            *theme.HANDLERS,
            *frame_check.HANDLERS,
        ],
        dependencies=POOL,
        before_request=refused.refuse_foreign_frame,
        exception_handlers={PoolNotFound: not_found, UnknownApp: not_found},
        include_in_schema=False,
    )
