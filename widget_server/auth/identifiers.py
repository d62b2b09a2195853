"""What a user types to say who they are, read the way addresses are stored.

Emails as the registration stores them (``canonical.canonical_email``);
phone numbers in E.164, parsed with the pool's default region and accepted only from the
pool's regions (if it lists any) and only for numbers a person has (mobile or fixed
line). Anything unreadable is ``None``: to a login that is just an unknown account.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from widget_server.canonical import IdentifierRefused, canonical_email
from widget_server.forms import identifier_field
from widget_server.forms.schema import is_phone, properties
from widget_server.phones import PhoneRefused, default_region_for, normalise_phone
from widget_server.pools import PoolView

#: Longer than any email (320) or phone number: not an identifier, and not worth parsing.
MAX_IDENTIFIER = 320


class Identifier(NamedTuple):
    kind: Literal["email", "phone"]
    value: str


def accepts_phone(pool: PoolView) -> bool:
    return "phone" in pool.activation_methods or _identifier_format(pool) == "tel"


def identifier_is_phone(pool: PoolView) -> bool:
    """A pool whose users are known by their phone number (its identifier is ``tel``)."""
    return is_phone(properties(pool.schema).get(identifier_field(pool.schema), {}))


def _identifier_format(pool: PoolView) -> str | None:
    prop = properties(pool.schema).get(identifier_field(pool.schema), {})
    fmt = prop.get("format")
    return fmt if isinstance(fmt, str) else None


def default_region(pool: PoolView) -> str | None:
    prop = properties(pool.schema).get(identifier_field(pool.schema), {})
    return default_region_for(prop.get("x-default-region"), pool.phone_regions)


def read_identifier(pool: PoolView, text: str) -> Identifier | None:
    text = text.strip()
    if not text or len(text) > MAX_IDENTIFIER:
        return None
    if "@" in text or not accepts_phone(pool):
        return _email(text)
    return _phone(pool, text)


def _email(text: str) -> Identifier | None:
    try:
        return Identifier("email", canonical_email(text))
    except IdentifierRefused:
        return None


def _phone(pool: PoolView, text: str) -> Identifier | None:
    # The registration's policy (widget_server.phones): a number it would refuse can
    # name no account.
    try:
        number = normalise_phone(
            text, default_region=default_region(pool), regions=pool.phone_regions
        )
    except PhoneRefused:
        return None
    return Identifier("phone", number)
