"""The events partners receive: their types, their payloads as msgspec Structs, and a
JSON Schema per type that the developer portal publishes.

Every request body has the shape the Standard Webhooks specification recommends::

    {"type": "user.registered", "timestamp": "2026-01-01T12:00:00Z", "data": {...}}

``timestamp`` is when the change happened (the event row's ``created_at``); the
``webhook-timestamp`` header is when this attempt was sent.

What a payload holds, and never holds: the user's non-secret profile (id, pool, status,
verified addresses, payload fields, metadata, timestamps). Never a password hash, code,
token, session or TOTP seed; payload properties the pool's schema draws as password
fields (``x-widget: password``) are left out too. ``login.failed`` names no identifier
at all (see ``LoginFailedData``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

import msgspec

USER_REGISTERED: Final = "user.registered"
USER_ACTIVATED: Final = "user.activated"
USER_UPDATED: Final = "user.updated"
USER_DELETED: Final = "user.deleted"
LOGIN_SUCCEEDED: Final = "login.succeeded"
LOGIN_FAILED: Final = "login.failed"
#: Sent only by "send test event", to one endpoint; no filter can exclude it.
WEBHOOK_TEST: Final = "webhook.test"

#: What an endpoint may subscribe to, in the order the portal lists them.
EVENT_TYPES: tuple[str, ...] = (
    USER_REGISTERED,
    USER_ACTIVATED,
    USER_UPDATED,
    USER_DELETED,
    LOGIN_SUCCEEDED,
    LOGIN_FAILED,
)
USER_EVENTS = frozenset({USER_REGISTERED, USER_ACTIVATED, USER_UPDATED, USER_DELETED})
LOGIN_EVENTS = frozenset({LOGIN_SUCCEEDED, LOGIN_FAILED})

#: Which path made the change: the widget's self-registration, an administrator, the
#: user accepting an admin's invitation, the user's account portal, password recovery,
#: a bulk import of users (``emit.user_imported``).
Source = Literal["registration", "admin", "invitation", "account", "recovery", "import"]


class _Data(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


AddressKind = Literal["email", "phone"]


class VerifiedAddress(_Data, frozen=True, kw_only=True):
    kind: AddressKind
    #: Email lower-cased; phone in E.164.
    value: str
    verified_at: datetime


class UserProfile(_Data, frozen=True, kw_only=True):
    id: str
    pool_id: str
    status: Literal["new", "active", "inactive"]
    #: Only verified addresses: an unverified one may belong to someone else.
    addresses: list[VerifiedAddress]
    #: What the user entered, by the pool's payload schema.
    payload: dict[str, Any]
    #: What administrators set (roles, groups, customer numbers).
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    activated_at: datetime | None


class UserEventData(_Data, frozen=True, kw_only=True):
    """``user.registered`` and ``user.activated``."""

    user: UserProfile
    source: Source
    #: The app whose widget or sign-in the user came through, when known.
    app_id: str | None = None


class UserUpdatedData(_Data, frozen=True, kw_only=True):
    user: UserProfile
    source: Source
    #: What changed, by name, never by value: ``payload.<field>``, ``metadata.<field>``,
    #: ``status``, ``addresses``, ``password``, ``mfa`` (a second factor added or removed).
    changes: list[str]


class DeletedUser(_Data, frozen=True, kw_only=True):
    id: str
    pool_id: str
    status: Literal["deleted"]
    deleted_at: datetime


class UserDeletedData(_Data, frozen=True, kw_only=True):
    """The personal data is gone by the time this is sent; only the id remains."""

    user: DeletedUser
    source: Source
    #: ``admin``: an administrator deleted the user. ``abandoned``: a registration that
    #: was never activated gave its address up to a new one.
    reason: Literal["admin", "abandoned"]


class LoginSucceededData(_Data, frozen=True, kw_only=True):
    user_id: str
    pool_id: str
    app_id: str | None
    #: How the user proved who they are (OIDC ``amr``): ["pwd"], ["pwd", "otp"], ...
    amr: list[str]


class LoginFailedData(_Data, frozen=True, kw_only=True, omit_defaults=True):
    """A refused password login. ``reason`` is always ``failed``: which check failed
    (unknown identifier, wrong password, an account that may not log in) is what the
    login page must not reveal, and neither does this. ``user_id`` is present only when
    the typed identifier is a verified address of a user of the pool, a user the
    endpoint's owner was told about already (``user.registered``); for an unknown
    identifier there is nothing, not even the identifier that was typed."""

    pool_id: str
    app_id: str | None
    reason: Literal["failed"]
    user_id: str | None = None


class WebhookTestData(_Data, frozen=True, kw_only=True):
    endpoint_id: str
    message: str


class _Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    timestamp: datetime


class UserRegistered(_Event, frozen=True, kw_only=True):
    type: Literal["user.registered"]
    data: UserEventData


class UserActivated(_Event, frozen=True, kw_only=True):
    type: Literal["user.activated"]
    data: UserEventData


class UserUpdated(_Event, frozen=True, kw_only=True):
    type: Literal["user.updated"]
    data: UserUpdatedData


class UserDeleted(_Event, frozen=True, kw_only=True):
    type: Literal["user.deleted"]
    data: UserDeletedData


class LoginSucceeded(_Event, frozen=True, kw_only=True):
    type: Literal["login.succeeded"]
    data: LoginSucceededData


class LoginFailed(_Event, frozen=True, kw_only=True):
    type: Literal["login.failed"]
    data: LoginFailedData


class WebhookTest(_Event, frozen=True, kw_only=True):
    type: Literal["webhook.test"]
    data: WebhookTestData


ENVELOPES: dict[str, type[_Event]] = {
    USER_REGISTERED: UserRegistered,
    USER_ACTIVATED: UserActivated,
    USER_UPDATED: UserUpdated,
    USER_DELETED: UserDeleted,
    LOGIN_SUCCEEDED: LoginSucceeded,
    LOGIN_FAILED: LoginFailed,
    WEBHOOK_TEST: WebhookTest,
}


def event_schemas() -> dict[str, dict[str, Any]]:
    """A JSON Schema (draft 2020-12) of the request body, per event type."""
    return {name: _schema(envelope) for name, envelope in ENVELOPES.items()}


def _schema(envelope: type[_Event]) -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(envelope)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def body(event_type: str, created_at: datetime, data: dict[str, Any]) -> bytes:
    """The request body of an event; the same bytes on every attempt."""
    return msgspec.json.encode({"type": event_type, "timestamp": created_at, "data": data})
