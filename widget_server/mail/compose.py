"""Emails from templates in ``widgets/emails/``; text first, HTML beside it.

The activation email is the same for every sign-up to a pool but for its code, so it is
rendered once per (pool name, lifetime) with a placeholder where the code goes and the
code is joined in: two template renders cost ~0.1 ms of the registration's transaction
(it is composed there, beside the outbox row), a join about a microsecond.
"""

from __future__ import annotations

from jinja2 import Environment

from widget_server.mail.senders import Envelope

#: Where a cached body holds the code; no template text or pool name contains it.
_CODE_SLOT = "\x00code\x00"
_CACHE_LIMIT = 1024


class Composer:
    def __init__(self, env: Environment) -> None:
        self._env = env
        self._bodies: dict[tuple[str, str, int], tuple[list[str], list[str]]] = {}

    def _with_code(
        self, name: str, recipient: str, subject: str, code: str, pool_name: str, minutes: int
    ) -> Envelope:
        """``_render`` of a template whose only per-message value is ``code``."""
        if not code.isdigit() or _CODE_SLOT in pool_name:
            # Digits need no escaping in either body; anything else takes the plain path.
            return self._render(
                name, recipient, subject, code=code, pool_name=pool_name, minutes=minutes
            )
        key = (name, pool_name, minutes)
        bodies = self._bodies.get(key)
        if bodies is None:
            blank = self._render(
                name, "", "", code=_CODE_SLOT, pool_name=pool_name, minutes=minutes
            )
            if len(self._bodies) >= _CACHE_LIMIT:
                self._bodies.clear()
            bodies = self._bodies[key] = (
                blank.body_text.split(_CODE_SLOT),
                (blank.body_html or "").split(_CODE_SLOT),
            )
        text, html = bodies
        return Envelope(
            recipient=recipient,
            subject=subject,
            body_text=code.join(text),
            body_html=code.join(html),
        )

    def _render(self, name: str, recipient: str, subject: str, **context: object) -> Envelope:
        text = self._env.get_template(f"emails/{name}.txt").render(**context)
        html = self._env.get_template(f"emails/{name}.html").render(**context)
        return Envelope(recipient=recipient, subject=subject, body_text=text, body_html=html)

    def activation_code(self, recipient: str, code: str, pool_name: str, minutes: int) -> Envelope:
        return self._with_code(
            "activation_code",
            recipient,
            f"{code} is your {pool_name} verification code",
            code,
            pool_name,
            minutes,
        )

    def already_registered(self, recipient: str, pool_name: str) -> Envelope:
        # Sent instead of a code when the address already has an account, so the page
        # can look the same for new and known addresses.
        return self._render(
            "already_registered",
            recipient,
            f"Someone tried to sign up to {pool_name} with your address",
            pool_name=pool_name,
        )

    def invitation(
        self, recipient: str, code: str, pool_name: str, link: str, hours: int
    ) -> Envelope:
        # The code leads the subject like the activation code: mail apps show it, and
        # tests read it from there.
        return self._render(
            "invitation",
            recipient,
            f"{code} is your code to activate your {pool_name} account",
            code=code,
            pool_name=pool_name,
            link=link,
            hours=hours,
        )

    def set_password(self, recipient: str, pool_name: str, link: str, hours: int) -> Envelope:
        return self._render(
            "set_password",
            recipient,
            f"Choose your password for {pool_name}",
            pool_name=pool_name,
            link=link,
            hours=hours,
        )

    # Second factors and the account portal (flows/mfa.py, account/addresses.py). The code
    # leads the subject, like the activation code: mail apps show it, and tests read it.
    def mfa_code(self, recipient: str, code: str, pool_name: str, minutes: int) -> Envelope:
        return self._render(
            "mfa_code",
            recipient,
            f"{code} is your {pool_name} sign-in code",
            code=code,
            pool_name=pool_name,
            minutes=minutes,
        )

    def verify_address(self, recipient: str, code: str, pool_name: str, minutes: int) -> Envelope:
        return self._render(
            "verify_address",
            recipient,
            f"{code} is your code to add this address to {pool_name}",
            code=code,
            pool_name=pool_name,
            minutes=minutes,
        )

    def address_in_use(self, recipient: str, pool_name: str) -> Envelope:
        # Sent instead of a code when the address belongs to another account, so the page
        # looks the same whoever owns it.
        return self._render(
            "address_in_use",
            recipient,
            f"Someone tried to add your address to another {pool_name} account",
            pool_name=pool_name,
        )

    # Password recovery (flows/recovery.py). The code leads the subject, like the others.
    def recovery_code(self, recipient: str, code: str, pool_name: str, minutes: int) -> Envelope:
        return self._render(
            "recovery_code",
            recipient,
            f"{code} is your code to reset your {pool_name} password",
            code=code,
            pool_name=pool_name,
            minutes=minutes,
        )

    def password_changed(self, recipient: str, pool_name: str) -> Envelope:
        # A security notice to the sign-in address: a change the owner did not make is
        # how they learn that someone else has their session or password.
        return self._render(
            "password_changed",
            recipient,
            f"Your {pool_name} password was changed",
            pool_name=pool_name,
        )
