"""The domain's exceptions. None of them knows about HTTP; ``web.errors`` maps them.

::

    WidgetError
     ├── PoolNotFound
     ├── RegistrationClosed
     ├── InvalidInput(messages)            field → [Msg]; ``""`` holds form-level messages
     │    └── MalformedInput               the request itself cannot be read (a field
     │                                     that is not UTF-8): 400, whatever the field
     ├── FlowError
     │    ├── FlowNotFound
     │    ├── FlowExpired                 the caller starts a fresh flow
     │    ├── CsrfMismatch
     │    └── FlowStateError               replayed POST, step not reachable
     ├── CodeError
     │    ├── CodeInvalid(remaining)
     │    ├── CodeExpired
     │    ├── CodeExhausted
     │    └── ResendTooSoon(retry_after)
     ├── LoginError                        end-user login and recovery (flows/login.py)
     │    ├── LoginFailed                  unknown identifier, wrong password or a user who
     │    │                                may not log in: one answer for all three
     │    ├── LoginThrottled(retry_after)  too many attempts for this account+IP or this IP
     │    └── UnknownApp                   client_id unknown, revoked or not for this pool
     ├── MfaError                          second factors and the account portal (auth/mfa.py)
     │    ├── MfaCodeInvalid               a TOTP code that is not the user's (counted)
     │    ├── MfaCodeReused                a TOTP step already used once (replay)
     │    ├── MfaThrottled(retry_after)    too many second-factor attempts for this user
     │    ├── MfaUnavailable               no way to reach the user (no email, no SMS yet)
     │    └── NotSignedIn                  no live session for the account portal
     ├── InstallationError(message_id)     the database or secret key a server or CLI run
     │                                     was given is not the installation's, or there is
     │                                     no installation there yet (installation.py)
     ├── Overloaded(retry_after)           password hashing pool full
     └── AdminError                        the admin API and portal
          ├── NotAuthenticated             no, unknown, revoked or expired credentials
          ├── NotFound(kind)               missing, or outside the caller's scope: the two
          │                                look the same, so scope leaks no existence
          ├── Forbidden(action)            in scope, but the role does not allow it
          ├── Conflict(message_id)         the object's state forbids it (built-in schema,
          │    │                           pool still has users, illegal status change)
          │    └── ContrastFailures(failures)  a theme below WCAG AA published without
          │                                     ``accept_contrast_failures``
          └── TooManyAttempts(retry_after) portal sign-in throttled (per email, per IP)

    OAuthError(error, description)        OAuth 2.0 / OIDC (RFC 6749 §5.2 error codes)
     ├── InvalidRequest                   malformed or missing parameter
     ├── InvalidClient                    unknown client, wrong secret, wrong auth method
     ├── InvalidGrant                     unknown, expired, used, or mis-bound code
     ├── UnauthorizedClient               the app may not use this grant / pool
     ├── UnsupportedGrantType
     ├── InvalidScope
     ├── UnsupportedResponseType
     ├── LoginRequired / ConsentRequired  ``prompt=none`` could not be honoured
     ├── AccessDenied                     the user (or the pool) said no
     └── RedirectRefused(message_id)      unknown client or unregistered redirect_uri:
                                          shown to the user, never sent anywhere
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from widget_server.messages import Msg, msg


class WidgetError(Exception):
    """Base of every domain error. ``message`` is what the user should read."""

    message_id = "form.invalid"

    @property
    def message(self) -> Msg:
        return msg(self.message_id)


class PoolNotFound(WidgetError):
    message_id = "pool.not_found"


class RegistrationClosed(WidgetError):
    message_id = "registration.disabled"


class InvalidInput(WidgetError):
    """Submitted values failed validation; every failure is collected, by field."""

    def __init__(self, messages: Mapping[str, Sequence[Msg]]) -> None:
        super().__init__(", ".join(f"{k}: {m.id}" for k, ms in messages.items() for m in ms))
        self.messages: dict[str, tuple[Msg, ...]] = {k: tuple(v) for k, v in messages.items()}


class MalformedInput(InvalidInput):
    """A request that cannot be read as text (``form.invalid_utf8`` for a field that is
    not UTF-8): refused whole, before any flow sees it, rather than guessed at."""


class FlowError(WidgetError):
    pass


class FlowNotFound(FlowError):
    message_id = "flow.not_found"


class FlowExpired(FlowError):
    message_id = "flow.expired"


class CsrfMismatch(FlowError):
    message_id = "flow.csrf"


class FlowStateError(FlowError):
    message_id = "flow.wrong_step"

    def __init__(self, message_id: str = "flow.wrong_step") -> None:
        super().__init__(message_id)
        self.message_id = message_id


class CodeError(WidgetError):
    pass


class CodeInvalid(CodeError):
    def __init__(self, remaining: int) -> None:
        super().__init__(remaining)
        self.remaining = remaining

    @property
    def message(self) -> Msg:
        return msg("code.invalid", remaining=self.remaining)


class CodeExpired(CodeError):
    message_id = "code.expired"


class CodeExhausted(CodeError):
    message_id = "code.exhausted"


class ResendTooSoon(CodeError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> Msg:
        return msg("code.resend_cooldown", seconds=self.retry_after)


class Overloaded(WidgetError):
    message_id = "server.busy"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class LoginError(WidgetError):
    pass


class LoginFailed(LoginError):
    """Deliberately vague: which of the three it was must not be learnable."""

    message_id = "login.failed"


class LoginThrottled(LoginError):
    message_id = "login.throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> Msg:
        return msg("login.throttled", seconds=self.retry_after)


class UnknownApp(LoginError):
    message_id = "login.unknown_app"


class AdminError(WidgetError):
    pass


class NotAuthenticated(AdminError):
    message_id = "admin.unauthenticated"


class NotFound(AdminError):
    message_id = "admin.not_found"

    def __init__(self, kind: str = "object") -> None:
        super().__init__(kind)
        self.kind = kind


class Forbidden(AdminError):
    message_id = "admin.forbidden"

    def __init__(self, action: str) -> None:
        super().__init__(action)
        self.action = action


class Conflict(AdminError):
    def __init__(self, message_id: str, **params: str | int) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.params = params

    @property
    def message(self) -> Msg:
        return msg(self.message_id, "error", **self.params)


class ContrastFailures(Conflict):
    """Publishing a theme whose colour pairs fail WCAG 2.2 AA needs an explicit accept;
    ``failures`` names the pairs (``light.focus``), as ``branding.contrast`` does."""

    def __init__(self, failures: Sequence[str]) -> None:
        super().__init__("brand.contrast_failures", pairs=", ".join(failures))
        self.failures = tuple(failures)


class TooManyAttempts(AdminError):
    """Too many failed sign-ins for this email or from this address; wait ``retry_after``."""

    message_id = "admin.login_throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> Msg:
        return msg("admin.login_throttled", seconds=self.retry_after)


# --- OAuth 2.0 / OpenID Connect (issue 4) -------------------------------------------------


class OAuthError(WidgetError):
    """An error of the OAuth protocol; ``error`` is the RFC 6749 code sent to the client,
    ``description`` a short developer-facing hint (never user data, never a secret)."""

    error = "invalid_request"
    message_id = "oauth.error"

    def __init__(self, description: str = "") -> None:
        super().__init__(description or self.error)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class RedirectRefused(OAuthError):
    """The authorization request cannot be answered to its client (the client is unknown,
    or the redirect URI is not registered for it): redirecting would make us an open
    redirector, so the user gets an error page instead."""

    def __init__(self, message_id: str, description: str = "") -> None:
        super().__init__(description or message_id)
        self.message_id = message_id


# --- Second factors and the account portal (auth/mfa.py, account/*) ------------------------


class MfaError(WidgetError):
    pass


class MfaCodeInvalid(MfaError):
    message_id = "mfa.code_invalid"


class MfaCodeReused(MfaError):
    message_id = "mfa.code_reused"


class MfaThrottled(MfaError):
    message_id = "mfa.throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after

    @property
    def message(self) -> Msg:
        return msg("mfa.throttled", seconds=self.retry_after)


class MfaUnavailable(MfaError):
    message_id = "mfa.unavailable"


class NotSignedIn(MfaError):
    message_id = "account.signed_out"


# --- The installation: its database and secret key (installation.py, cli_target.py) -------


class InstallationError(WidgetError):
    """Acting here would write where the server does not read, or make keys and codes it
    refuses. Raised before anything is written; ``str()`` is the operator's text, since it
    ends up in a terminal or a startup log rather than on a page."""

    def __init__(self, message_id: str, **params: str | int) -> None:
        super().__init__(msg(message_id, "error", **params).text())
        self.message_id = message_id
        self.params = params

    @property
    def message(self) -> Msg:
        return msg(self.message_id, "error", **self.params)
