"""Emails in the pool's theme, from one layout in ``widgets/emails/``: text first, HTML
beside it.

Each email's words are message ids (``email.<name>.subject``, ``.heading``, ``.intro``,
``.button``, ``.footer``), so the pool's theme re-words them as it re-words its pages, in
both parts. The HTML part is drawn in the theme's colours, font, radius, button style
and logo, the way mail clients render: inline styles and tables, and nothing fetched
but the logo, from our own origin (``public_url``). Values are escaped by the template.

The activation email is the same for every sign-up to a pool but for its code, so it is
rendered once per (pool, version, lifetime) with a placeholder where the code goes and
the code is joined in: two template renders cost ~0.1 ms of the registration's
transaction (it is composed there, beside the outbox row), a join about a microsecond.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from widget_server.mail.senders import Envelope
from widget_server.messages import CATALOG, Msg
from widget_server.pools import PoolView
from widget_server.themes import Theme, logo_src, resolve_theme

#: Where a cached body holds the code; no template text or pool name contains it.
_CODE_SLOT = "\x00code\x00"
_CACHE_LIMIT = 1024
_BUTTON_RADIUS = {"pill": "999px", "square": "0px"}
_DEFAULT_THEME = resolve_theme()


class Composer:
    def __init__(self, env: Environment, public_url: str = "") -> None:
        self._env = env
        #: Where the logo is fetched from; without it an email shows the logo's text.
        self._origin = public_url.rstrip("/")
        self._bodies: dict[tuple[str, str, int, int], tuple[list[str], list[str]]] = {}
        self._themes: dict[tuple[str, int], Theme] = {}

    def theme(self, pool: PoolView) -> Theme:
        """The pool's resolved theme, once per pool version."""
        key = (pool.id, pool.version)
        theme = self._themes.get(key)
        if theme is None:
            if len(self._themes) >= _CACHE_LIMIT:
                self._themes.clear()
            theme = self._themes[key] = resolve_theme(*pool.theme_layers)
        return theme

    def _cached(
        self, name: str, recipient: str, pool: PoolView, code: str = "", minutes: int = 0
    ) -> Envelope:
        """``_render`` of an email whose only per-message value is ``code`` (or that has
        none): rendered once per (pool, version, lifetime) with a slot where the code goes,
        then joined. Both emails a registration may send come from here, the code and the
        notice to an address's owner, so a taken address takes no longer than a new one
        (rendering the notice afresh cost ~80 us, a measurable tell)."""
        values: dict[str, str | int] = {"code": code, "minutes": minutes} if code else {}
        if (code and not code.isdigit()) or _CODE_SLOT in pool.name:
            # Digits need no escaping in either body; anything else takes the plain path.
            return self._render(name, recipient, pool, **values)
        key = (name, pool.id, pool.version, minutes)
        bodies = self._bodies.get(key)
        if bodies is None:
            slot = {"code": _CODE_SLOT} if code else {}
            blank = self._render(name, "", pool, **(values | slot))
            if len(self._bodies) >= _CACHE_LIMIT:
                self._bodies.clear()
            bodies = self._bodies[key] = (
                blank.body_text.split(_CODE_SLOT),
                (blank.body_html or "").split(_CODE_SLOT),
            )
        text, html = bodies
        subject_values = {"code": code} if code else {}
        return Envelope(
            recipient=recipient,
            subject=self._say(name, "subject", self.theme(pool), pool=pool.name, **subject_values),
            body_text=code.join(text),
            body_html=code.join(html),
        )

    def _render(self, name: str, recipient: str, pool: PoolView, **values: str | int) -> Envelope:
        return self._render_in(name, recipient, self.theme(pool), {"pool": pool.name, **values})

    def _render_in(
        self, name: str, recipient: str, theme: Theme, words: dict[str, str | int]
    ) -> Envelope:
        link = str(words.get("link", ""))
        context = {
            "heading": self._say(name, "heading", theme, **words),
            "intro": self._say(name, "intro", theme, **words),
            "footer": self._say(name, "footer", theme, **words),
            "code": words.get("code", ""),
            "link": link,
            **self._look(name, theme, words),
        }
        return Envelope(
            recipient=recipient,
            subject=self._say(name, "subject", theme, **words),
            body_text=self._env.get_template("emails/layout.txt").render(**context),
            body_html=self._env.get_template("emails/layout.html").render(**context),
        )

    @staticmethod
    def _say(name: str, part: str, theme: Theme, **params: str | int) -> str:
        return Msg(id=f"email.{name}.{part}", params=dict(params)).text(theme.copy)

    def _look(self, name: str, theme: Theme, words: dict[str, str | int]) -> dict[str, Any]:
        """The theme as the layout's inline styles need it."""
        colors = theme.colors
        filled = theme.button.style == "filled"
        logo = logo_src(theme)
        button_label = ""
        if f"email.{name}.button" in CATALOG:
            button_label = self._say(name, "button", theme, **words)
        return {
            "colors": colors,
            "font": theme.font.family.strip(),
            "radius": theme.radius,
            "logo_text": theme.logo.text,
            "logo_url": self._origin + logo if logo and self._origin else None,
            "button": {
                "label": button_label,
                "background": colors.primary if filled else colors.surface,
                "color": colors.primary_contrast if filled else colors.primary,
                "radius": _BUTTON_RADIUS.get(theme.button.shape, theme.radius),
            },
        }

    def activation_code(self, recipient: str, code: str, pool: PoolView, minutes: int) -> Envelope:
        return self._cached("activation_code", recipient, pool, code, minutes)

    def already_registered(self, recipient: str, pool: PoolView) -> Envelope:
        # Sent instead of a code when the address already has an account, so the page
        # can look the same for new and known addresses; cached like the code, so that it
        # takes as long.
        return self._cached("already_registered", recipient, pool)

    def invitation(
        self, recipient: str, code: str, pool: PoolView, link: str, hours: int
    ) -> Envelope:
        # The code leads the subject like the activation code: mail apps show it, and
        # tests read it from there.
        return self._render("invitation", recipient, pool, code=code, link=link, hours=hours)

    def developer_invitation(
        self,
        recipient: str,
        *,
        link: str,
        hours: int,
        tenant: str,
        scope: str,
        inviter: str,
        pool: PoolView | None = None,
    ) -> Envelope:
        # A developer invited to a pool gets the email in that pool's theme, as its users
        # do; one invited to a workspace (no pool) gets the default theme. The words are
        # message ids like every other email's.
        words: dict[str, str | int] = {
            "link": link,
            "hours": hours,
            "tenant": tenant,
            "scope": scope,
            "inviter": inviter,
        }
        theme = self.theme(pool) if pool is not None else _DEFAULT_THEME
        return self._render_in("developer_invitation", recipient, theme, words)

    def set_password(self, recipient: str, pool: PoolView, link: str, hours: int) -> Envelope:
        return self._render("set_password", recipient, pool, link=link, hours=hours)

    # Second factors and the account portal (flows/mfa.py, account/addresses.py). The code
    # leads the subject, like the activation code: mail apps show it, and tests read it.
    def mfa_code(self, recipient: str, code: str, pool: PoolView, minutes: int) -> Envelope:
        return self._render("mfa_code", recipient, pool, code=code, minutes=minutes)

    def verify_address(self, recipient: str, code: str, pool: PoolView, minutes: int) -> Envelope:
        return self._render("verify_address", recipient, pool, code=code, minutes=minutes)

    def address_in_use(self, recipient: str, pool: PoolView) -> Envelope:
        # Sent instead of a code when the address belongs to another account, so the page
        # looks the same whoever owns it.
        return self._render("address_in_use", recipient, pool)

    # Password recovery (flows/recovery.py). The code leads the subject, like the others.
    def recovery_code(self, recipient: str, code: str, pool: PoolView, minutes: int) -> Envelope:
        return self._render("recovery_code", recipient, pool, code=code, minutes=minutes)

    def password_changed(self, recipient: str, pool: PoolView) -> Envelope:
        # A security notice to the sign-in address: a change the owner did not make is
        # how they learn that someone else has their session or password.
        return self._render("password_changed", recipient, pool)
