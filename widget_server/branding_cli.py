"""``widget-server theme ...`` and ``widget-server workspace ...``: the brand studio from
the shell, so brands keep themes in git and a CI job pushes them::

    widget-server theme list
    widget-server theme export ID > acme.json          (the live version; --draft)
    widget-server theme import acme.json [--into ID] [--publish]
    widget-server theme publish ID [--accept-contrast-failures]
    widget-server theme assign ID --to workspace:WORKSPACE_ID   (tenant, workspace, pool, app)
    widget-server workspace list | create NAME | rename ID NAME | delete ID
    widget-server workspace move-pool POOL_ID WORKSPACE_ID
    widget-server workspace from-template NAME --template banking --pool id=Name ...

Each runs the same service as the portal and API, as the audited CLI actor
(``admin_cli``); ``--tenant`` may be left out when there is one tenant, or when the
theme named belongs to one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select

from widget_server.admin.access import Actor
from widget_server.admin_cli import cli_actor, services_for
from widget_server.branding import assignment, catalogue, exchange, publishing, workspaces
from widget_server.branding.layers import LEVELS
from widget_server.branding.templates import (
    NewTemplateWorkspace,
    TemplatePool,
    create_workspace_from_template,
)
from widget_server.cli_target import add_create_flag
from widget_server.errors import ContrastFailures, InvalidInput, WidgetError
from widget_server.models import Tenant, ThemeRecord
from widget_server.services import Services
from widget_server.settings import Settings

COMMANDS = ("theme", "workspace")
#: A theme file is a few images and fonts at their size caps, base64-encoded.
MAX_FILE_BYTES = 16 * 1024 * 1024


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    theme = commands.add_parser("theme", help="list, export, import, publish, assign themes")
    theme.add_argument("--tenant", help="the tenant (optional when it is clear)")
    add_create_flag(theme)
    actions = theme.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="built-in and custom themes")
    export = actions.add_parser("export", help="a theme as one JSON file, on stdout")
    export.add_argument("theme_id")
    export.add_argument("--draft", action="store_true", help="the draft, not the live version")
    imported = actions.add_parser("import", help="a theme file as a new theme or a new draft")
    imported.add_argument("file", type=Path)
    imported.add_argument("--into", help="replace the draft of this theme instead")
    imported.add_argument("--workspace", help="place a new theme in this workspace")
    imported.add_argument("--pool", help="place a new theme in this pool")
    imported.add_argument("--publish", action="store_true")
    imported.add_argument("--accept-contrast-failures", action="store_true")
    publish = actions.add_parser("publish", help="make a theme's draft live")
    publish.add_argument("theme_id")
    publish.add_argument("--accept-contrast-failures", action="store_true")
    assign = actions.add_parser("assign", help="make a theme the layer of a target")
    assign.add_argument("theme_id", help="a custom theme id, or 'none' to remove")
    assign.add_argument("--to", required=True, help="LEVEL:ID, LEVEL one of " + ", ".join(LEVELS))
    _workspace_commands(commands)


def _workspace_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    workspace = commands.add_parser("workspace", help="group pools and apps in workspaces")
    workspace.add_argument("--tenant", help="the tenant (optional when there is one)")
    add_create_flag(workspace)
    actions = workspace.add_subparsers(dest="action", required=True)
    actions.add_parser("list")
    actions.add_parser("create").add_argument("name")
    rename = actions.add_parser("rename")
    rename.add_argument("workspace_id")
    rename.add_argument("name")
    actions.add_parser("delete", help="delete an empty workspace").add_argument("workspace_id")
    move = actions.add_parser("move-pool")
    move.add_argument("pool_id")
    move.add_argument("workspace_id")
    template = actions.add_parser("from-template", help="a workspace, its pools and its theme")
    template.add_argument("name")
    template.add_argument("--template", required=True, help="ecommerce, banking, b2b-employees")
    template.add_argument("--pool", action="append", default=[], help="ID=Name (repeat)")


async def run(args: argparse.Namespace, settings: Settings) -> None:
    try:
        async with services_for(settings) as services:
            actor = await cli_actor(services, await _tenant(services, args))
            handler = _THEME if args.command == "theme" else _WORKSPACE
            await handler[args.action](services, actor, args)
    except ContrastFailures as exc:
        raise SystemExit(
            f"refused: {exc.message.text()} (--accept-contrast-failures publishes anyway)"
        ) from None
    except InvalidInput as exc:
        problems = "; ".join(
            f"{f or 'input'}: {m.text()}" for f, ms in exc.messages.items() for m in ms
        )
        raise SystemExit(f"refused: {problems}") from None
    except WidgetError as exc:
        raise SystemExit(f"refused: {exc.message.text()}") from None


async def _tenant(services: Services, args: argparse.Namespace) -> str:
    if args.tenant:
        return str(args.tenant)
    async with services.db.read() as session:
        theme_id = getattr(args, "theme_id", None) or getattr(args, "into", None)
        if theme_id:
            owner = await session.scalar(
                select(ThemeRecord.tenant_id).where(ThemeRecord.id == theme_id[:36])
            )
            if owner is not None:
                return owner
        tenants = list((await session.execute(select(Tenant.id).limit(2))).scalars())
    if len(tenants) != 1:
        raise SystemExit("--tenant is needed: " + ("no tenant yet" if not tenants else "several"))
    return tenants[0]


def _print(value: Any) -> None:
    print(msgspec.json.format(msgspec.json.encode(value)).decode())


async def _list_themes(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    for theme in await catalogue.list_themes(services, actor):
        live = "built-in" if theme.builtin else f"live v{theme.published_version or '-'}"
        print(f"{theme.id}\t{theme.name}\t{live}")


async def _export(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    document = await exchange.export_theme(services, actor, args.theme_id, draft=args.draft)
    sys.stdout.buffer.write(document)
    sys.stdout.flush()


async def _import(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    path: Path = args.file
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SystemExit(f"refused: {path} is larger than {MAX_FILE_BYTES // 2**20} MB")
    imported = await exchange.import_theme(
        services,
        actor,
        path.read_bytes(),
        into=args.into,
        workspace_id=args.workspace,
        pool_id=args.pool,
        publish=args.publish,
        accept_contrast_failures=args.accept_contrast_failures,
    )
    summary = imported.theme.summary
    live = f", live as version {summary.published_version}" if imported.published else ""
    print(f"theme {summary.id} ({summary.name}): draft revision {summary.draft_revision}{live}")


async def _publish(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    published = await publishing.publish_theme(
        services,
        actor,
        args.theme_id,
        accept_contrast_failures=args.accept_contrast_failures,
    )
    print(f"version {published.version.number} is live in {len(published.pools)} pools")


async def _assign(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    level, _, target = args.to.partition(":")
    if level not in LEVELS or not target:
        raise SystemExit(f"--to must be LEVEL:ID with LEVEL one of {', '.join(LEVELS)}")
    theme_id = None if args.theme_id == "none" else args.theme_id
    done = await assignment.assign_theme(services, actor, level, target, theme_id)
    print(f"{level} {target}: {theme_id or 'no theme'} ({len(done.pools)} pools changed)")


_THEME = {
    "list": _list_themes,
    "export": _export,
    "import": _import,
    "publish": _publish,
    "assign": _assign,
}


async def _list_workspaces(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    for workspace in await workspaces.list_workspaces(services, actor):
        print(f"{workspace.id}\t{workspace.name}\t{', '.join(workspace.pool_ids) or '-'}")


async def _create(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    _print(
        await workspaces.create_workspace(services, actor, workspaces.NewWorkspace(name=args.name))
    )


async def _rename(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    new = workspaces.NewWorkspace(name=args.name)
    _print(await workspaces.rename_workspace(services, actor, args.workspace_id, new))


async def _delete(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    await workspaces.delete_workspace(services, actor, args.workspace_id)
    print(f"workspace {args.workspace_id} deleted")


async def _move_pool(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    _print(await workspaces.move_pool(services, actor, args.pool_id, args.workspace_id))


async def _from_template(services: Services, actor: Actor, args: argparse.Namespace) -> None:
    pools = []
    for spec in args.pool:
        pool_id, _, name = spec.partition("=")
        pools.append(TemplatePool(id=pool_id, name=name or pool_id))
    new = NewTemplateWorkspace(name=args.name, template=args.template, pools=pools)
    _print(await create_workspace_from_template(services, actor, new))


_WORKSPACE = {
    "list": _list_workspaces,
    "create": _create,
    "rename": _rename,
    "delete": _delete,
    "move-pool": _move_pool,
    "from-template": _from_template,
}
