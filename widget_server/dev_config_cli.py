"""``widget-server dev-config ...``: a developer's apps and webhook endpoints as one file,
from the shell, so a partner keeps them in git and a CI job moves them::

    widget-server dev-config export [--pool ID ...] > config.json   (no secrets in it)
    widget-server dev-config import config.json                     (shows the plan only)
    widget-server dev-config import config.json --apply             (new secrets once)

The same services as the portal and API (``developers/config.py``), as the audited CLI
actor (``admin_cli``); ``--tenant`` may be left out when there is one tenant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import select

from widget_server.admin_cli import cli_actor, services_for
from widget_server.cli_target import add_create_flag
from widget_server.developers import config
from widget_server.developers.config import Change
from widget_server.errors import InvalidInput, WidgetError
from widget_server.models import Tenant
from widget_server.services import Services
from widget_server.settings import Settings

COMMANDS = ("dev-config",)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dev-config", help="export or import a developer's apps and webhook endpoints"
    )
    parser.add_argument("--tenant", help="the tenant (needed when there are several)")
    add_create_flag(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    export = actions.add_parser("export", help="the apps and endpoints as JSON, on stdout")
    export.add_argument("--pool", action="append", help="only the apps and endpoints of a pool")
    imported = actions.add_parser("import", help="show what a file changes; --apply does it")
    imported.add_argument("file", type=Path)
    imported.add_argument("--apply", action="store_true", help="make the changes")


async def run(args: argparse.Namespace, settings: Settings) -> None:
    try:
        async with services_for(settings) as services:
            actor = await cli_actor(services, await _tenant(services, args.tenant))
            if args.action == "export":
                document = await config.export_config(services, actor, args.pool)
                sys.stdout.buffer.write(config.encode(document))
                sys.stdout.flush()
                return
            path: Path = args.file
            if path.stat().st_size > config.MAX_BYTES:
                raise SystemExit(f"refused: {path} is larger than {config.MAX_BYTES} bytes")
            wanted = config.decode(path.read_bytes())
            if not args.apply:
                planned = await config.plan(services, actor, wanted)
                _show(planned.changes)
                print(f"{planned.pending} change(s); run again with --apply to make them")
                return
            applied = await config.apply(services, actor, wanted)
            _show(applied.changes)
            for app_id, secret in applied.client_secrets.items():
                print(f"client secret of {app_id} (shown once): {secret}")
            for key, secret in applied.webhook_secrets.items():
                print(f"signing secret of {key} (shown once): {secret}")
    except InvalidInput as exc:
        problems = "; ".join(
            f"{f or 'input'}: {m.text()}" for f, ms in exc.messages.items() for m in ms
        )
        raise SystemExit(f"refused: {problems}") from None
    except WidgetError as exc:
        raise SystemExit(f"refused: {exc.message.text()}") from None


def _show(changes: list[Change]) -> None:
    for change in changes:
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        print(f"{change.action:9} {change.kind:16} {change.key}{fields}")


async def _tenant(services: Services, tenant: str | None) -> str:
    if tenant:
        return tenant
    async with services.db.read() as session:
        tenants = list((await session.execute(select(Tenant.id).limit(2))).scalars())
    if len(tenants) != 1:
        raise SystemExit("--tenant is needed: " + ("no tenant yet" if not tenants else "several"))
    return tenants[0]
