"""First steps on a fresh install, from the shell: a tenant, its first administrator, a
pool from a sector template, an API key.

The commands run the same admin services as the API and portal, as a tenant-admin actor
named after the machine user, so every step is validated the same way and audited.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from sqlalchemy import select

from widget_server.admin import pools, principals
from widget_server.admin.access import ROLES, Actor, Principal
from widget_server.admin.pools import NewPool
from widget_server.admin.principals import NewAdmin
from widget_server.cli_target import add_create_flag
from widget_server.errors import InvalidInput, WidgetError
from widget_server.models import Tenant
from widget_server.services import Services
from widget_server.settings import Settings
from widget_server.web.app import create_app

COMMANDS = ("create-tenant", "create-admin", "create-pool", "issue-api-key")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("create-tenant", help="create a tenant (the top of the tree)")
    tenant.add_argument("--id", required=True)
    tenant.add_argument("--name", required=True)
    admin = commands.add_parser("create-admin", help="create an administrator who signs in")
    admin.add_argument("--tenant", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", required=True)
    admin.add_argument("--role", choices=ROLES, default="tenant_admin")
    admin.add_argument(
        "--pool",
        action="append",
        help="the pool of a pool_admin or pool_viewer; a developer's pools (repeat it)",
    )
    admin.add_argument("--workspace", help="the workspace id of a brand_designer (else: tenant)")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pool = commands.add_parser("create-pool", help="create a pool from a sector template")
    pool.add_argument("--tenant", required=True)
    pool.add_argument("--id", required=True)
    pool.add_argument("--name", required=True)
    pool.add_argument("--template", required=True, help="ecommerce, banking, b2b-employees")
    pool.add_argument("--origin", action="append", default=[], help="allowed embed origin")
    pool.add_argument("--email-domain", action="append", default=[], help="allowed domain")
    key = commands.add_parser("issue-api-key", help="issue an API key (printed once)")
    key.add_argument("--tenant", required=True)
    key.add_argument("--name", required=True)
    key.add_argument("--role", choices=ROLES, default="tenant_admin")
    key.add_argument(
        "--pool",
        action="append",
        help="the pool of a pool_admin or pool_viewer key; a developer's pools (repeat it)",
    )
    for command in (tenant, admin, pool, key):
        add_create_flag(command)
    key.add_argument("--workspace", help="the workspace id of a brand_designer or developer key")


async def run(args: argparse.Namespace, settings: Settings) -> None:
    try:
        async with _services(settings) as services:
            if args.command == "create-tenant":
                await _create_tenant(services, args.id, args.name)
                print(f"tenant {args.id} ready")
                return
            actor = await _cli_actor(services, args.tenant)
            await _COMMANDS[args.command](services, actor, args)
    except InvalidInput as exc:
        problems = "; ".join(
            f"{f or 'input'}: {m.text()}" for f, ms in exc.messages.items() for m in ms
        )
        raise SystemExit(f"refused: {problems}") from None
    except WidgetError as exc:
        raise SystemExit(f"refused: {exc.message.text()}") from None


@asynccontextmanager
async def _services(settings: Settings) -> AsyncIterator[Services]:
    app = create_app(settings)
    for hook in app.on_startup:
        await hook()  # type: ignore[call-arg]  # our hooks take no app argument
    try:
        yield app.state.web.services
    finally:
        for hook in app.on_shutdown:
            await hook()  # type: ignore[call-arg]  # our hooks take no app argument


async def _create_tenant(services: Services, tenant_id: str, name: str) -> None:
    async with services.db.write() as session:
        if await session.get(Tenant, tenant_id) is None:
            session.add(Tenant(id=tenant_id, name=name, theme={}, created_at=services.clock.now()))


async def _cli_actor(services: Services, tenant_id: str) -> Actor:
    async with services.db.read() as session:
        found = await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id))
    if found is None:
        raise SystemExit(f"no tenant {tenant_id!r}: run create-tenant first")
    who = f"cli:{_user()}@{socket.gethostname()}"[:200]
    principal = Principal(
        id="cli", tenant_id=tenant_id, pool_id=None, role="tenant_admin", kind="api_key", name=who
    )
    return Actor(principal=principal, ip=None)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


async def _create_admin(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (12+ characters): ")
    new = NewAdmin(
        kind="person",
        role=args.role,
        name=args.name,
        **_pools(args),
        workspace_id=args.workspace,
        email=args.email,
        password=password,
    )
    created = await principals.create_admin(services, actor, new)
    print(f"administrator {created.admin.email} ({created.admin.role}) created")


def _pools(args: argparse.Namespace) -> dict[str, Any]:
    """``--pool`` as the service takes it: a developer's pools as ``pool_ids``, another
    role's one pool as ``pool_id`` (several: ``pool_ids``, which the service refuses)."""
    chosen: list[str] = args.pool or []
    if args.role == "developer" or len(chosen) > 1:
        return {"pool_ids": chosen or None}
    return {"pool_id": chosen[0] if chosen else None}


async def _create_pool(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    new = NewPool(
        id=args.id,
        name=args.name,
        template=args.template,
        allowed_origins=args.origin or None,
        email_domains=args.email_domain or None,
    )
    pool = await pools.create_pool(services, actor, new)
    print(msgspec.json.format(msgspec.json.encode(pool)).decode())


async def _issue_key(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    new = NewAdmin(
        kind="api_key",
        role=args.role,
        name=args.name,
        **_pools(args),
        workspace_id=args.workspace,
    )
    created = await principals.create_admin(services, actor, new)
    print(f"API key for {args.name} ({args.role}); shown once, keep it safe:")
    print(created.api_key)


_COMMANDS = {
    "create-admin": _create_admin,
    "create-pool": _create_pool,
    "issue-api-key": _issue_key,
}


#: For the other command modules (``branding_cli``): the same services, and the same
#: audited tenant-admin actor named after the machine user.
services_for = _services
cli_actor = _cli_actor
