"""The demo partner's app registration: an OAuth client for the Northwind demo site.

Only the keyed hash of a client secret is ever stored, so the demo cannot read back the
secret of an earlier run: every start gives the app a fresh one and hands it to the
partner backend in the same process. (A real partner copies the secret once, from the
admin API's answer.)
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from widget_server.clock import Clock
from widget_server.db import Database
from widget_server.models import App
from widget_server.oidc.clients import client_secret_hash
from widget_server.seed import DEMO_POOLS

DEMO_CLIENT_ID = "northwind"
DEMO_SCOPES = ["email", "phone", "profile", "roles", "groups"]


async def ensure_demo_app(db: Database, secret_key: str, clock: Clock, partner_origin: str) -> str:
    """Create or refresh the demo app for ``partner_origin``; return its new client secret."""
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    values = {
        "name": "Northwind Outfitters",
        "kind": "confidential",
        "secret_hash": client_secret_hash(secret_key, DEMO_CLIENT_ID, secret),
        "allowed_origins": [partner_origin],
        "redirect_uris": [f"{partner_origin}/callback"],
        "pool_ids": [p.id for p in DEMO_POOLS],
        "scopes": DEMO_SCOPES,
        "updated_at": now,
        "revoked_at": None,
    }
    async with db.write() as session:
        app = (
            await session.execute(select(App).where(App.id == DEMO_CLIENT_ID))
        ).scalar_one_or_none()
        if app is None:
            session.add(
                App(id=DEMO_CLIENT_ID, tenant_id="acme", theme={}, created_at=now, **values)
            )
        else:
            for name, value in values.items():
                setattr(app, name, value)
    return secret
