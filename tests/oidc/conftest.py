"""Fixtures of the OIDC tests: an active user with verified addresses, a registered app
(through the admin service, as an operator would), and a logged-in session made with the
sessions module's own ``start_session`` (what the login page does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.admin.keys import AdminClient
from tests.conftest import Harness
from widget_server.admin import apps
from widget_server.admin.apps import NewApp
from widget_server.auth.sessions import start_session
from widget_server.clock import ManualClock
from widget_server.demo.relying_party import RelyingParty, relying_party
from widget_server.models import Address, User
from widget_server.secrets_ import new_id

PARTNER_CALLBACK = "http://127.0.0.1:8001/callback"


@dataclass(frozen=True)
class EndUser:
    id: str
    pool_id: str
    email: str
    phone: str | None


@dataclass(frozen=True)
class PartnerApp:
    id: str
    secret: str | None
    redirect_uri: str


@pytest.fixture
def clock() -> ManualClock:
    """Starts at the real time: authlib checks ``exp`` and ``iat`` against the wall clock."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


MakeUser = Callable[..., Awaitable[EndUser]]
MakeApp = Callable[..., Awaitable[PartnerApp]]
LogIn = Callable[..., Awaitable[str]]


async def insert_user(
    h: Harness,
    *,
    pool_id: str = "partner-1",
    email: str = "ada@example.com",
    phone: str | None = None,
    phone_verified: bool = True,
    metadata: dict[str, Any] | None = None,
    payload: dict[str, Any] | None = None,
    status: str = "active",
) -> EndUser:
    now = h.clock.now()
    user_id = new_id()
    async with h.web.services.db.write() as session:
        session.add(
            User(
                id=user_id,
                pool_id=pool_id,
                status=status,
                payload=payload or {"email": email},
                metadata_=metadata or {},
                created_at=now,
                updated_at=now,
                activated_at=now,
                created_by=None,
                deleted_at=None,
            )
        )
        await session.flush()
        addresses = [("email", email, True)] + ([("phone", phone, phone_verified)] if phone else [])
        for kind, value, verified in addresses:
            session.add(
                Address(
                    id=new_id(),
                    user_id=user_id,
                    pool_id=pool_id,
                    kind=kind,
                    value=value,
                    status="verified" if verified else "unverified",
                    verified_at=now if verified else None,
                    created_at=now,
                )
            )
    return EndUser(id=user_id, pool_id=pool_id, email=email, phone=phone)


@pytest.fixture
def make_user(harness: Harness) -> MakeUser:
    async def make(**kwargs: Any) -> EndUser:
        return await insert_user(harness, **kwargs)

    return make


@pytest.fixture
def make_app(harness: Harness, operator: AdminClient) -> MakeApp:
    """``await make_app(id="shop", kind="confidential", scopes=[...], ...)``."""

    async def make(**kwargs: Any) -> PartnerApp:
        values: dict[str, Any] = {
            "id": "shop",
            "name": "Shop",
            "kind": "confidential",
            "pool_ids": ["partner-1"],
            "redirect_uris": [PARTNER_CALLBACK],
            "allowed_origins": ["http://127.0.0.1:8001"],
            "scopes": ["email", "phone", "profile", "roles", "groups"],
        } | kwargs
        created = await apps.create_app(harness.web.services, operator.actor, NewApp(**values))
        return PartnerApp(
            id=created.app.id,
            secret=created.client_secret,
            redirect_uri=values["redirect_uris"][0] if values["redirect_uris"] else "",
        )

    return make


@pytest.fixture
def log_in(harness: Harness) -> LogIn:
    """``await log_in(user)``: a live session of the user; sets the pool's session cookie on
    the harness client (as the login page would) and returns the token."""

    async def make(user: EndUser, amr: list[str] | None = None) -> str:
        pool = await harness.web.services.pools.get(user.pool_id)
        async with harness.web.services.db.write() as session:
            token, _ = await start_session(
                harness.web.services,
                session,
                user_id=user.id,
                pool=pool,
                app_id=None,
                amr=amr or ["pwd"],
                ip="127.0.0.1",
                user_agent="test",
            )
        harness.client.cookies.set(f"ws_session_{user.pool_id}", token, domain="widget.test")
        return token

    return make


ISSUER = "http://localhost:8000"
MakeRp = Callable[..., RelyingParty]


@pytest.fixture
def make_rp(harness: Harness) -> MakeRp:
    """``make_rp(app, scope=..., auth_method=...)``: authlib's OpenID Connect client for the
    app, talking to the test app in-process (discovery, JWKS and token endpoint)."""

    def make(app: PartnerApp, **kwargs: Any) -> RelyingParty:
        return relying_party(
            ISSUER,
            app.id,
            app.secret,
            transport=httpx.ASGITransport(app=harness.app),
            **kwargs,
        )

    return make
