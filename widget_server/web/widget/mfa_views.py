"""The MFA step of the login card (state ``mfa``): what the page shows, from what the flow
stored when it entered the state (``flows/mfa_entry.py``), so drawing it costs no query.

``login_views`` calls ``mfa_view`` for a flow in ``mfa``; the template is
``flows/mfa_step.html``, included by the login card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from widget_server.messages import Msg
from widget_server.models import Flow
from widget_server.pools import PoolView
from widget_server.services import Services

METHODS = ("totp", "email")


def mfa_path(pool: PoolView) -> str:
    return f"/embed/{pool.id}/login/mfa"


def mfa_view(
    services: Services,
    pool: PoolView,
    flow: Flow,
    values: Mapping[str, str],
    errors: Mapping[str, Sequence[Msg]],
) -> dict[str, Any]:
    # A flow saved before the options were stored offers both ways.
    offered = flow.data.get("mfa") or {"totp": True, "email": None, "sent_to": None}
    totp, email, sent_to = bool(offered.get("totp")), offered.get("email"), offered.get("sent_to")
    method = values.get("method")
    if method not in METHODS:
        method = "email" if sent_to or not totp else "totp"
    return {
        "state": "mfa",
        "mfa_action": mfa_path(pool),
        "mfa_send_action": mfa_path(pool) + "/send",
        "mfa_totp": totp,
        "mfa_email": email,
        "mfa_sent_to": sent_to,
        "mfa_channel": offered.get("channel") or "email",
        "mfa_method": method,
        "code_errors": tuple(errors.get("code", ())),
        "code_minutes": services.settings.code_ttl_seconds // 60,
    }
