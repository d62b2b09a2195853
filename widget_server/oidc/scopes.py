"""Scopes an app may ask for, and the ID-token claims each one releases.

``openid`` is implied for every app (it is what makes the answer an ID token); the others
are granted per app by the operator and, in the redirect flow, per user on the consent page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from widget_server.errors import InvalidScope

#: Order is the order the consent page lists them in.
SCOPES: tuple[str, ...] = ("openid", "email", "phone", "profile", "roles", "groups")
CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub", "pool"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    # What a pool's claim mapping may fill (oidc/mapping.py), in the order OIDC Core §5.1 lists.
    "profile": (
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "website",
    ),
    "roles": ("roles",),
    "groups": ("groups",),
}
MAX_SCOPE_LENGTH = 500


def allowed_for(app_scopes: Iterable[str]) -> tuple[str, ...]:
    granted = {"openid", *app_scopes}
    return tuple(s for s in SCOPES if s in granted)


def parse_scope(requested: str | None, app_scopes: Sequence[str]) -> tuple[str, ...]:
    """The requested scopes, in canonical order; ``openid`` required, nothing the app may
    not ask for (``invalid_scope`` rather than a silent narrowing, so a developer sees it)."""
    if not requested or len(requested) > MAX_SCOPE_LENGTH:
        raise InvalidScope("scope must include openid")
    asked = set(requested.split(" ")) - {""}
    if "openid" not in asked:
        raise InvalidScope("scope must include openid")
    unknown = asked - set(SCOPES)
    if unknown:
        raise InvalidScope("unknown scope: " + " ".join(sorted(unknown))[:100])
    refused = asked - set(allowed_for(app_scopes))
    if refused:
        raise InvalidScope("scope not allowed for this app: " + " ".join(sorted(refused))[:100])
    return tuple(s for s in SCOPES if s in asked)


def scope_string(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
