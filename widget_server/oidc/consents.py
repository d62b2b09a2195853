"""What a user granted which app, for the account portal: list, and take back.

Taking a grant back means the next sign-in to that app shows the consent page again; it
does not end sessions or tokens already issued (ID tokens are self-contained, access
tokens live 10 minutes).
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import delete, select

from widget_server.models import App, Consent
from widget_server.services import Services


class GrantView(msgspec.Struct, frozen=True, kw_only=True):
    app_id: str
    app_name: str
    scopes: list[str]
    granted_at: datetime


async def list_grants(services: Services, user_id: str) -> list[GrantView]:
    async with services.db.read() as session:
        rows = await session.execute(
            select(Consent, App.name)
            .join(App, App.id == Consent.app_id)
            .where(Consent.user_id == user_id)
            .order_by(App.name, App.id)
        )
        return [
            GrantView(
                app_id=consent.app_id,
                app_name=name,
                scopes=list(consent.scopes or ()),
                granted_at=consent.granted_at,
            )
            for consent, name in rows
        ]


async def revoke_grant(services: Services, user_id: str, app_id: str) -> bool:
    """Forget what ``user_id`` granted ``app_id``; True if there was a grant."""
    async with services.db.write() as session:
        result = await session.execute(
            delete(Consent).where(Consent.user_id == user_id, Consent.app_id == app_id[:64])
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]
