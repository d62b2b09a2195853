"""What every snippet is made of: the checked request values, and the server's URLs.

The paths below are the only ones snippets point at; a test asks the app whether each is
still served, so a renamed route fails there, not on a partner's page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from widget_server.developers.contract import dom_events
from widget_server.developers.literals import url_part, url_query

EMBED_SCRIPT_PATH: Final = "/static/embed.js"
WIDGET_PATH: Final = "/embed/{pool}/{flow}"
FRAME_CHECK_PATH: Final = "/embed/{pool}/frame-check"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a path, not a secret
DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/.well-known/jwks.json"
#: On the partner's own site: where its page posts the login code to its backend. The
#: frontend and backend snippets agree on it; the partner may change both.
CODE_CALLBACK_PATH: Final = "/auth/widget-callback"
#: Where the backend snippets read the app's secret from; never written into a snippet.
SECRET_VARIABLE: Final = "WIDGET_SERVER_CLIENT_SECRET"  # noqa: S105 - a variable's name

#: Flows whose widget page reads ``client_id`` for the app's code (a test compares this,
#: with ``APP_THEMED_FLOWS``, with the routes).
CLIENT_ID_FLOWS: Final = frozenset({"login"})
#: Flows that read ``client_id`` only to show the app's own theme layer (no code hand-off;
#: the snippets leave it out, a partner may add ``data-client-id`` for the theme).
APP_THEMED_FLOWS: Final = frozenset({"register"})

#: Fixed words per flow, for names and comments (never a request value).
FLOW_NAMES: Final = {"register": "Signup", "login": "Login", "account": "Account",
                     "recover": "Recovery"}
FLOW_TITLES: Final = {"register": "sign-up", "login": "sign-in", "account": "account",
                      "recover": "password reset"}
IFRAME_TITLES: Final = {"register": "Sign up", "login": "Sign in", "account": "Your account",
                        "recover": "Reset your password"}


@dataclass(frozen=True)
class SnippetValues:
    """A checked request: raw values, escaped only where a snippet puts them."""

    #: Our public URL without a trailing slash: the OIDC issuer, the base of every URL.
    base: str
    #: ``scheme://host[:port]``: what CSP source lists and ``event.origin`` compare with.
    origin: str
    pool_id: str
    flow: str
    client_id: str | None
    public_app: bool
    color_scheme: str | None
    locale: str | None

    @property
    def script_url(self) -> str:
        return self.base + EMBED_SCRIPT_PATH

    @property
    def sends_client_id(self) -> bool:
        return self.client_id is not None and self.flow in CLIENT_ID_FLOWS

    @property
    def exchanges_code(self) -> bool:
        """The page gets a code to hand to its backend: an app's login, confidential."""
        return self.sends_client_id and not self.public_app

    @property
    def events(self) -> tuple[str, ...]:
        return dom_events(self.flow)

    @property
    def element_id(self) -> str:
        return f"widget-server-{self.flow}"

    @property
    def component(self) -> str:
        return "WidgetServer" + FLOW_NAMES[self.flow]

    def widget_url(self) -> str:
        """The widget page for a plain iframe, with the options embed.js would pass."""
        path = WIDGET_PATH.format(pool=url_part(self.pool_id), flow=self.flow)
        return self.base + path + url_query(self.query_options())

    def query_options(self) -> dict[str, str]:
        found: dict[str, str] = {}
        if self.sends_client_id and self.client_id is not None:
            found["client_id"] = self.client_id
        if self.color_scheme is not None:
            found["color_scheme"] = self.color_scheme
        if self.locale is not None:
            found["locale"] = self.locale
        return found

    def mount_options(self) -> list[tuple[str, str]]:
        """``WidgetServer.mount(element, {...})``'s options but ``origin``, in order."""
        found = [("pool", self.pool_id), ("flow", self.flow)]
        if self.sends_client_id and self.client_id is not None:
            found.append(("clientId", self.client_id))
        if self.color_scheme is not None:
            found.append(("colorScheme", self.color_scheme))
        if self.locale is not None:
            found.append(("locale", self.locale))
        return found

    def data_attributes(self) -> list[tuple[str, str]]:
        """The script tag's ``data-*`` attributes, in order (the same options)."""
        names = {"pool": "pool", "flow": "flow", "clientId": "client-id",
                 "colorScheme": "color-scheme", "locale": "locale"}
        found = [(names[key], value) for key, value in self.mount_options()]
        return [*found[:2], ("target", "#" + self.element_id), *found[2:]]


def camel(event: str) -> str:
    """``logged-in`` → ``loggedIn``."""
    head, *rest = event.split("-")
    return head + "".join(part.capitalize() for part in rest)


def handler_prop(event: str) -> str:
    """``logged-in`` → ``onLoggedIn``: a callback prop's name."""
    name = camel(event)
    return "on" + name[0].upper() + name[1:]
