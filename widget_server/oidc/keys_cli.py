"""Operator commands for the ID-token signing keys.

widget-server signing-keys                 list keys (active, pending, published, retired)
widget-server rotate-signing-key           a new key, published at once by every process,
                                           signs 6 minutes later (once every relying
                                           party's copy of the JWKS has it); the old one
                                           stays published
widget-server retire-signing-key KID       stop publishing an old key, once the tokens
                                           it signed have expired (10 minutes); retiring
                                           the key that signs hands over to the new one
                                           at once (a leaked key)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from widget_server.changes import make_feed
from widget_server.cli_target import add_create_flag
from widget_server.clock import Clock, SystemClock
from widget_server.db import Database
from widget_server.models import SigningKey
from widget_server.oidc.keys import PUBLISH_AHEAD, KeyRing
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
    # Tells the running servers (PostgreSQL) to re-read the keys now, not within a minute.
    feed = make_feed(db, listen=False)
    try:
        clock = SystemClock()
        ring = KeyRing(_KeyServices(settings, db, clock), feed)
        if args.command == "rotate-signing-key":
            kid = await ring.rotate()
            print(f"new signing key: {kid} (signs from {clock.now() + PUBLISH_AHEAD:%H:%M} UTC)")
        elif args.command == "retire-signing-key":
            if not await ring.retire(args.kid, clock.now()):
                raise SystemExit(f"{args.kid}: not a published key, or the newest one")
            print(f"retired: {args.kid}")
        active = (await ring.active()).kid
        seen_active = False
        for key in await ring.listing():  # newest first
            seen_active = seen_active or key.kid == active
            print(f"{key.kid}  {key.alg}  {key.created_at:%Y-%m-%d %H:%M}  ", end="")
            print(_state(key, active, seen_active))
    finally:
        await feed.close()
        await db.dispose()


def _state(key: SigningKey, active: str, seen_active: bool) -> str:
    """retired; active (signs); pending (published, signs later); published (verifies
    older tokens only)."""
    if key.retired_at is not None:
        return "retired"
    if key.kid == active:
        return "active"
    return "published" if seen_active else "pending"
