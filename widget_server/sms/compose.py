"""Text bodies from ``widgets/sms/*.txt``: short (the code and the pool's name, nothing
else), and never a link — a link in a code text is what phishing texts look like, and
operators' filters treat it so.

Bodies are returned as ``Envelope``s (recipient in E.164, the text in ``body_text``) so
they travel through the outbox's code paths like emails, with ``channel="sms"``.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from widget_server.assets import asset_dir
from widget_server.mail.senders import Envelope

SUBJECT = "SMS"
#: A pool name is trimmed to this many characters in a text: one SMS segment is 160
#: GSM-7 characters, and a long name must not split the code's text into several.
MAX_POOL_NAME = 40


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text: no autoescaping (an "&" in a pool name stays "&").
    return Environment(
        loader=FileSystemLoader(asset_dir("widgets")),
        autoescape=False,  # noqa: S701 (text messages, not HTML)
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        auto_reload=False,
    )


def _text(name: str, phone: str, **context: object) -> Envelope:
    body = _environment().get_template(f"sms/{name}.txt").render(**context).strip()
    return Envelope(recipient=phone, subject=SUBJECT, body_text=body)


def _short(pool_name: str) -> str:
    return pool_name if len(pool_name) <= MAX_POOL_NAME else pool_name[: MAX_POOL_NAME - 1] + "…"


def activation_code(phone: str, code: str, pool_name: str, minutes: int) -> Envelope:
    return _text("activation_code", phone, code=code, pool_name=_short(pool_name), minutes=minutes)


def already_registered(phone: str, pool_name: str) -> Envelope:
    # Sent instead of a code when the number already has an account (enumeration safety).
    return _text("already_registered", phone, pool_name=_short(pool_name))


def recovery_code(phone: str, code: str, pool_name: str, minutes: int) -> Envelope:
    """For flows/recovery.py: a password-reset code by SMS."""
    return _text("recovery_code", phone, code=code, pool_name=_short(pool_name), minutes=minutes)


# The account portal and the login's MFA step (account/addresses.py, flows/mfa_entry.py).
def verify_address(phone: str, code: str, pool_name: str, minutes: int) -> Envelope:
    return _text("verify_address", phone, code=code, pool_name=_short(pool_name), minutes=minutes)


def address_in_use(phone: str, pool_name: str) -> Envelope:
    # Sent instead of a code when the number belongs to another account of the pool.
    return _text("address_in_use", phone, pool_name=_short(pool_name))


def password_changed(phone: str, pool_name: str) -> Envelope:
    # The security notice after a reset by recovery code (flows/recovery.py).
    return _text("password_changed", phone, pool_name=_short(pool_name))


def mfa_code(phone: str, code: str, pool_name: str, minutes: int) -> Envelope:
    return _text("mfa_code", phone, code=code, pool_name=_short(pool_name), minutes=minutes)


# Users an administrator creates in a phone pool (users/invitations.py): the link leads
# to the widget's activation or set-password page, as the email's does.
def invitation(phone: str, code: str, pool_name: str, link: str, hours: int) -> Envelope:
    return _text(
        "invitation", phone, code=code, pool_name=_short(pool_name), link=link, hours=hours
    )


def set_password(phone: str, pool_name: str, link: str, hours: int) -> Envelope:
    return _text("set_password", phone, pool_name=_short(pool_name), link=link, hours=hours)
