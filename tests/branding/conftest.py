"""Brand-studio test helpers: actors of every role and scope, real image and font bytes."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from tests.conftest import Harness
from widget_server.admin.access import Actor, Principal, Role
from widget_server.branding.catalogue import (
    DraftEdit,
    NewTheme,
    ThemeDetail,
    create_theme,
    save_draft,
)
from widget_server.errors import InvalidInput
from widget_server.models import Workspace
from widget_server.services import Services


def actor(
    role: Role = "tenant_admin",
    *,
    pool_id: str | None = None,
    workspace_id: str | None = None,
    tenant: str = "acme",
    name: str = "",
) -> Actor:
    principal = Principal(
        id=f"{role}-{pool_id or workspace_id or 'all'}"[:36],
        tenant_id=tenant,
        pool_id=pool_id,
        role=role,
        kind="api_key",
        name=name or f"{role} of {pool_id or workspace_id or tenant}",
        workspace_id=workspace_id,
    )
    return Actor(principal=principal, ip="127.0.0.1")


OPERATOR = actor()
DESIGNER = actor("brand_designer", name="Bea Brand")


def services(h: Harness) -> Services:
    return h.web.services


def errors_of(exc: InvalidInput) -> dict[str, list[str]]:
    return {k: [m.id for m in v] for k, v in exc.messages.items()}


async def workspace_ids(h: Harness) -> dict[str, str]:
    """The demo's workspaces, by name."""
    async with services(h).db.read() as session:
        rows = await session.execute(select(Workspace.name, Workspace.id))
        return dict([(a, b) for a, b in rows])


async def new_theme(
    h: Harness,
    who: Actor = DESIGNER,
    *,
    copy_of: str = "default",
    tokens: dict[str, Any] | None = None,
    **place: str,
) -> ThemeDetail:
    theme = await create_theme(services(h), who, NewTheme(name="Brand", copy_of=copy_of, **place))
    if tokens is not None:
        theme = await save_draft(services(h), who, theme.summary.id, DraftEdit(tokens=tokens))
    return theme


def png(width: int = 64, height: int = 32, color: str = "#b42318") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def woff2(size: int = 200) -> bytes:
    """A WOFF2 header that is consistent with its length (what the upload check reads)."""
    header = b"wOF2" + b"\x00\x01\x00\x00" + struct.pack(">I", size)
    return header + b"\x00" * (size - len(header))


@pytest.fixture
def svc(harness: Harness) -> Services:
    return services(harness)
