"""``widget-server``: migrate, seed, serve, and the one-command demo."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

if sys.platform != "win32":
    import uvloop

from widget_server import admin_cli, branding_cli, cli_target, dev_config_cli, migrate, serving
from widget_server.clock import SystemClock
from widget_server.db import Database
from widget_server.demo.oidc_app import DEMO_CLIENT_ID, ensure_demo_app
from widget_server.demo.partner import create_partner_app
from widget_server.demo.partner_signin import PartnerOidc
from widget_server.errors import InstallationError
from widget_server.installation import ensure_key_fingerprint
from widget_server.mail.devsink import SmtpSink
from widget_server.observe import logs
from widget_server.oidc import keys_cli
from widget_server.passwords.hashing import Argon2Hasher
from widget_server.seed import DEMO_TENANT, DemoAdmin, seed_demo, seed_demo_admins
from widget_server.settings import Settings
from widget_server.web.app import create_app
from widget_server.web.shared.render import make_environment

log = logging.getLogger("widget_server")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="widget-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations (creates the database)")
    seed = commands.add_parser("seed-demo", help="add the demo tenant and sample pools")
    seed.add_argument("--origin", action="append", default=[], help="allowed embed origin")
    cli_target.add_create_flag(seed)
    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes on one socket (uvicorn's supervisor); each hashes on "
        "cores / N threads, at least one (widget_server/serving.py)",
    )
    demo = commands.add_parser("demo", help="everything for a first look, on SQLite")
    demo.add_argument("--data-dir", default=".data")
    demo.add_argument("--widget-port", type=int, default=8000)
    demo.add_argument("--partner-port", type=int, default=8001)
    demo.add_argument("--smtp-port", type=int, default=1025)
    demo.add_argument(
        "--no-smtp-sink",
        action="store_true",
        help="do not start the dev SMTP server (use WIDGET_SMTP_* instead)",
    )
    admin_cli.add_commands(commands)
    keys_cli.add_commands(commands)
    branding_cli.add_commands(commands)
    dev_config_cli.add_commands(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("mail.log", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "serve" and args.workers > 1:
        serving.serve_workers(args)  # uvicorn's supervisor: it must not run inside a loop
        return
    # uvloop (declared off Windows): ~10% less event-loop CPU per request than asyncio's.
    run = asyncio.run if sys.platform == "win32" else uvloop.run
    run(_run(args))


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


async def _run(args: argparse.Namespace) -> None:
    if args.command == "demo":
        await _demo(args)
        return
    settings = Settings.from_env()
    if not settings.secret_key and not settings.database_url.startswith("sqlite"):
        # Every process behind one database must share the key, or flows and codes made
        # by one are refused by the others: a per-machine generated key cannot do that.
        raise SystemExit("WIDGET_SECRET_KEY must be set when the database is not SQLite")
    if args.command == "serve":
        logs.configure(settings.log_format, settings.log_level)
        await _serve_app(args, settings)
        return
    # Every other command acts on an existing installation: it refuses a database that is
    # not there or not migrated, and a secret key it was not set up with, unless --create.
    # Setting one up is what migrate is for.
    create = args.command == "migrate" or args.create
    try:
        settings = await cli_target.open_target(settings, create=create, scope=_scope(args))
    except InstallationError as exc:
        raise SystemExit(str(exc)) from None
    if args.command in admin_cli.COMMANDS:
        await admin_cli.run(args, settings)
    elif args.command in keys_cli.COMMANDS:
        await keys_cli.run(args, settings)
    elif args.command in branding_cli.COMMANDS:
        await branding_cli.run(args, settings)
    elif args.command in dev_config_cli.COMMANDS:
        await dev_config_cli.run(args, settings)
    elif args.command == "seed-demo":
        db = Database(settings.database_url)
        try:
            await seed_demo(db, SystemClock(), args.origin)
        finally:
            await db.dispose()


def _scope(args: argparse.Namespace) -> str:
    """Which tenant a command acts on, for the line that says where it acts."""
    if args.command == "create-tenant":
        return f"tenant {args.id}"
    if args.command == "seed-demo":
        return f"tenant {DEMO_TENANT} (the demo's)"
    tenant = getattr(args, "tenant", None)
    return f"tenant {tenant}" if tenant else "every tenant"


async def _serve_app(args: argparse.Namespace, settings: Settings) -> None:
    source = cli_target.key_source(settings)
    settings = settings.with_secret(cli_target.DATA_DIR)
    try:
        await cli_target.check_before_serving(settings, source)
    except InstallationError as exc:
        raise SystemExit(str(exc)) from None
    config = uvicorn.Config(
        create_app(settings),
        host=args.host,
        port=args.port,
        access_log=args.access_log,
        backlog=4096,
        log_config=None,  # our handler (logs.configure): JSON lines with request ids
        # Not uvicorn's: the app reads the client's address from trusted balancers itself
        # (WIDGET_TRUSTED_PROXIES, web/shared/proxy.py), X-Forwarded-For or Forwarded.
        proxy_headers=False,
    )
    await _serve([config])


async def _demo(args: argparse.Namespace) -> None:
    data = Path(args.data_dir).resolve()
    widget_origin = f"http://localhost:{args.widget_port}"
    partner_origin = f"http://127.0.0.1:{args.partner_port}"
    settings = Settings.from_env()
    key_source = cli_target.key_source(settings, data)
    settings = settings.with_secret(data)
    overrides: dict[str, object] = {"public_url": widget_origin}
    if "WIDGET_WEBHOOKS_ALLOW_PRIVATE" not in os.environ:
        # A partner backend tried out on this machine receives webhooks at localhost.
        overrides["webhooks_allow_private"] = True
    if "WIDGET_DATABASE_URL" not in os.environ:
        overrides["database_url"] = f"sqlite+aiosqlite:///{data / 'widget.db'}"
    sink = None
    if not args.no_smtp_sink:
        smtp_port = args.smtp_port if _free(args.smtp_port) else _any_free_port()
        sink = SmtpSink(data / "mailbox", port=smtp_port)
        sink.start()
        overrides |= {
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "dev_mailbox_dir": str(data / "mailbox"),
        }
        if "WIDGET_SMS_PROVIDER" not in os.environ:
            # Texts (phone registration) land in the dev mailbox beside the emails.
            overrides["sms_provider"] = "devmailbox"
    settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
    db = Database(settings.database_url)
    await migrate.upgrade(db)
    try:
        # Before the demo app's secret is hashed under a key the database may not know.
        await ensure_key_fingerprint(db, settings.secret_key, source=key_source)
    except InstallationError as exc:
        await db.dispose()
        raise SystemExit(str(exc)) from None
    await seed_demo(db, SystemClock(), [partner_origin])
    client_secret = await ensure_demo_app(db, settings.secret_key, SystemClock(), partner_origin)
    hasher = Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
    admins = await seed_demo_admins(db, SystemClock(), hasher.hash)
    await db.dispose()
    _banner(widget_origin, partner_origin, settings, admins)
    try:
        await _serve(
            [
                uvicorn.Config(
                    create_app(settings),
                    host="127.0.0.1",
                    port=args.widget_port,
                    log_level="warning",
                ),
                uvicorn.Config(
                    create_partner_app(
                        make_environment(),
                        widget_origin,
                        oidc=PartnerOidc(DEMO_CLIENT_ID, client_secret),
                        partner_origin=partner_origin,
                    ),
                    host="127.0.0.1",
                    port=args.partner_port,
                    log_level="warning",
                ),
            ]
        )
    finally:
        if sink is not None:
            sink.stop()


async def _serve(configs: list[uvicorn.Config]) -> None:
    servers = [uvicorn.Server(c) for c in configs]
    await asyncio.gather(*(s.serve() for s in servers))


def _banner(
    widget_origin: str,
    partner_origin: str,
    settings: Settings,
    admins: Sequence[DemoAdmin] = (),
) -> None:
    lines = [
        "",
        "Widget Server demo is running.",
        f"  Partner site (embeds the widget):  {partner_origin}/",
        f"  Same, plain <iframe> snippet:      {partner_origin}/?plain=1&pool=partner-1",
        f"  Same, the sign-in widget:          {partner_origin}/?login=1",
        f"  Sign in with verified ID token:    {partner_origin}/signin",
        f"  Sign in by redirect (OIDC + PKCE): {partner_origin}/signin/redirect",
        f"  Pools on the widget server:        {widget_origin}/",
    ]
    if settings.dev_mailbox_dir:
        lines.append(f"  Dev mailbox (codes arrive here):   {widget_origin}/dev/mailbox")
    if admins:
        lines.append(f"  Admin portal:                      {widget_origin}/admin")
        lines += [
            f"    {a.role:<14} {a.email:<22} password {a.password}"
            for a in admins
            if a.role != "developer"
        ]
        lines.append(f"  Developer portal:                  {widget_origin}/developers")
        lines += [
            f"    {a.role:<14} {a.email:<22} password {a.password}"
            for a in admins
            if a.role == "developer"
        ]
    lines += [f"  Database: {settings.database_url}", "Press Ctrl+C to stop.", ""]
    print("\n".join(lines), flush=True)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _any_free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    main(sys.argv[1:])
