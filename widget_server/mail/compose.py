"""Emails from templates in ``widgets/emails/``; text first, HTML beside it."""

from __future__ import annotations

from jinja2 import Environment

from widget_server.mail.senders import Envelope


class Composer:
    def __init__(self, env: Environment) -> None:
        self._env = env

    def _render(self, name: str, recipient: str, subject: str, **context: object) -> Envelope:
        text = self._env.get_template(f"emails/{name}.txt").render(**context)
        html = self._env.get_template(f"emails/{name}.html").render(**context)
        return Envelope(recipient=recipient, subject=subject, body_text=text, body_html=html)

    def activation_code(self, recipient: str, code: str, pool_name: str, minutes: int) -> Envelope:
        return self._render(
            "activation_code",
            recipient,
            f"{code} is your {pool_name} verification code",
            code=code,
            pool_name=pool_name,
            minutes=minutes,
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
