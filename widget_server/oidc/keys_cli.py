"""Operator commands for the ID-token signing keys.

widget-server signing-keys                 list keys (active, published, retired)
widget-server rotate-signing-key           a new key signs from now on (every process
                                           picks it up within a minute); the old one
                                           stays published
widget-server retire-signing-key KID       stop publishing an old key, once the tokens
                                           it signed have expired (10 minutes)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from widget_server.cli_target import add_create_flag
from widget_server.clock import Clock, SystemClock
from widget_server.db import Database
from widget_server.oidc.keys import KeyRing
from widget_server.settings import Settings

COMMANDS = ("signing-keys", "rotate-signing-key", "retire-signing-key")


@dataclass(frozen=True)
class _KeyServices:
    settings: Settings
    db: Database
    clock: Clock


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    listing = commands.add_parser("signing-keys", help="list the ID-token signing keys")
    rotate = commands.add_parser(
        "rotate-signing-key", help="sign ID tokens with a new key from now on"
    )
    retire = commands.add_parser("retire-signing-key", help="stop publishing an old signing key")
    retire.add_argument("kid")
    for command in (listing, rotate, retire):
        add_create_flag(command)


async def run(args: argparse.Namespace, settings: Settings) -> None:
    """``settings`` are those ``cli_target.open_target`` checked: the database is migrated
    and its signing keys open under ``settings.secret_key``."""
    db = Database(settings.database_url)
    try:
        clock = SystemClock()
        ring = KeyRing(_KeyServices(settings, db, clock))
        if args.command == "rotate-signing-key":
            print(f"new signing key: {await ring.rotate()}")
        elif args.command == "retire-signing-key":
            if not await ring.retire(args.kid, clock.now()):
                raise SystemExit(f"{args.kid}: not a published key, or the active one")
            print(f"retired: {args.kid}")
        active = (await ring.active()).kid
        for key in await ring.listing():
            state = (
                "retired" if key.retired_at else ("active" if key.kid == active else "published")
            )
            print(f"{key.kid}  {key.alg}  {key.created_at:%Y-%m-%d %H:%M}  {state}")
    finally:
        await db.dispose()
