"""The account portal's CSRF token, derived from the session like a flow's from its id.

The session cookie is ``SameSite=None`` (it must reach a cross-site iframe), so another
site can make the browser send it; it cannot read the page, so it cannot know this token.
A new session (every login, a password change) gets a new token.
"""

from __future__ import annotations

from widget_server import secrets_
from widget_server.errors import CsrfMismatch
from widget_server.services import Services


def account_csrf(services: Services, session_id: str) -> str:
    return secrets_.keyed_hash(services.settings.secret_key, "account-csrf", session_id)[:43]


def check_csrf(services: Services, session_id: str, submitted: str | None) -> None:
    """``CsrfMismatch`` unless ``submitted`` is this session's token (constant time)."""
    if not submitted or not secrets_.hmac_equal(account_csrf(services, session_id), submitted):
        raise CsrfMismatch()
