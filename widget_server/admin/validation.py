"""Collecting what is wrong with an admin's input, field by field, before anything is
stored: every problem is reported at once, with a message id per field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from widget_server.errors import InvalidInput
from widget_server.messages import Msg, msg
from widget_server.passwords.policy import policy_from_config
from widget_server.themes import resolve_theme
from widget_server.web.shared.security import HOST_NAME, normalise_origin


class Problems:
    def __init__(self) -> None:
        self.by_field: dict[str, list[Msg]] = {}

    def add(self, field: str, message_id: str, **params: str | int) -> str:
        """Record a problem; returns "" so a bad value can be replaced inline."""
        self.by_field.setdefault(field, []).append(self.message(message_id, **params))
        return ""

    @staticmethod
    def message(message_id: str, **params: str | int) -> Msg:
        return msg(message_id, "error", **params)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise InvalidInput(self.by_field)

    def check_policy(self, field: str, config: Mapping[str, Any]) -> None:
        try:
            policy_from_config(config)
        except ValueError as exc:
            self.add(field, "admin.invalid_value", detail=str(exc)[:300])

    def check_origins(self, field: str, origins: list[str], limit: int) -> list[str]:
        if len(origins) > limit:
            self.add(field, "admin.too_many", limit=limit)
        for origin in origins:
            # Exactly an origin (scheme://host[:port]); anything else could smuggle
            # sources into the frame-ancestors header or widen postMessage targets.
            if not isinstance(origin, str) or normalise_origin(origin) != origin:
                self.add(field, "admin.invalid_origin", origin=str(origin)[:100])
        return sorted(set(origins))

    def check_domains(self, field: str, domains: list[str], limit: int) -> list[str]:
        if len(domains) > limit:
            self.add(field, "admin.too_many", limit=limit)
        cleaned = []
        for domain in domains:
            value = domain.strip().lower().lstrip("@") if isinstance(domain, str) else ""
            if "." not in value or len(value) > 253 or not HOST_NAME.fullmatch(value):
                self.add(field, "admin.invalid_domain", domain=str(domain)[:100])
            cleaned.append(value)
        return sorted(set(cleaned))

    def check_theme(self, field: str, theme: Mapping[str, Any]) -> None:
        try:
            resolve_theme(theme)
        except (ValueError, TypeError) as exc:
            self.add(field, "admin.invalid_value", detail=str(exc)[:300])
