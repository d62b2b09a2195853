"""The one mapping from a domain error to what an answer says: its status, the messages
by field, the messages above the form, and the headers (``Retry-After``). Every surface
calls ``explain``; each then draws the result its own way (a widget step, an account
section, a portal page, a JSON error body).

=====================  ======  ==============================================
error                  status  where its message goes
=====================  ======  ==============================================
InvalidInput           422     by field; ``""`` above the form
MalformedInput         400     by field (a field that is not UTF-8)
 (form-level message)  400     a malformed post (``flow.malformed``, …)
CsrfMismatch           403     above the form
FlowNotFound           404     above a fresh flow
FlowExpired            410     above a fresh flow
FlowStateError         409     above the flow as it now is
CodeInvalid            422     under the code field (attempts left)
CodeExpired            410     under the code field
CodeExhausted          429     under the code field
ResendTooSoon          429     above the form + ``Retry-After``
Overloaded             503     above the form + ``Retry-After`` (the widget's
                               registration and login: ``widget/busy.py``)
RegistrationClosed     403     a closed notice, no form
PoolNotFound           404     a plain not-found page
LoginFailed            400     above the login form
LoginThrottled         429     above the login form + ``Retry-After``
UnknownApp             404     a plain not-found page
MfaCodeInvalid         422     under the code field
MfaCodeReused          422     under the code field
MfaThrottled           429     above the form + ``Retry-After``
MfaUnavailable         409     above the form
NotSignedIn            401     the account portal's sign-in prompt
NotAuthenticated       401     portal: the sign-in page; API: ``WWW-Authenticate``
Forbidden              403     an error page / body
NotFound               404     an error page / body (also outside the caller's scope)
Conflict               409     above the form / in the body
TooManyAttempts        429     above the sign-in form + ``Retry-After``
(anything else)        400     above the form
=====================  ======  ==============================================
"""

from __future__ import annotations

from typing import NamedTuple

from widget_server.errors import (
    CodeExhausted,
    CodeExpired,
    CodeInvalid,
    Conflict,
    CsrfMismatch,
    FlowExpired,
    FlowNotFound,
    FlowStateError,
    Forbidden,
    InvalidInput,
    LoginFailed,
    LoginThrottled,
    MalformedInput,
    MfaCodeInvalid,
    MfaCodeReused,
    MfaThrottled,
    MfaUnavailable,
    NotAuthenticated,
    NotFound,
    NotSignedIn,
    Overloaded,
    PoolNotFound,
    RegistrationClosed,
    ResendTooSoon,
    TooManyAttempts,
    UnknownApp,
    WidgetError,
)
from widget_server.messages import Msg

STATUS: dict[type[WidgetError], int] = {
    MalformedInput: 400,
    InvalidInput: 422,
    CsrfMismatch: 403,
    FlowNotFound: 404,
    FlowExpired: 410,
    FlowStateError: 409,
    CodeInvalid: 422,
    CodeExpired: 410,
    CodeExhausted: 429,
    ResendTooSoon: 429,
    Overloaded: 503,
    RegistrationClosed: 403,
    PoolNotFound: 404,
    LoginFailed: 400,
    LoginThrottled: 429,
    UnknownApp: 404,
    MfaCodeInvalid: 422,
    MfaCodeReused: 422,
    MfaThrottled: 429,
    MfaUnavailable: 409,
    NotSignedIn: 401,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooManyAttempts: 429,
}

#: Errors about the code the person typed: shown under the code field.
CODE_ERRORS = (CodeInvalid, CodeExpired, CodeExhausted, MfaCodeInvalid, MfaCodeReused)


def status_for(exc: WidgetError) -> int:
    if isinstance(exc, InvalidInput) and "" in exc.messages:
        return 400
    for kind in type(exc).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 400


class Explained(NamedTuple):
    status: int
    #: Messages by field name (``"code"`` for a code typed wrong).
    errors: dict[str, tuple[Msg, ...]]
    #: Messages about the request as a whole, shown above the form.
    alerts: tuple[Msg, ...]
    headers: dict[str, str]

    @property
    def messages(self) -> tuple[Msg, ...]:
        """Every message, form-level first: for pages that list them in one place."""
        return self.alerts + tuple(m for ms in self.errors.values() for m in ms)


def explain(exc: WidgetError) -> Explained:
    errors: dict[str, tuple[Msg, ...]] = {}
    alerts: tuple[Msg, ...] = ()
    if isinstance(exc, InvalidInput):
        errors = {k: tuple(v) for k, v in exc.messages.items() if k}
        alerts = tuple(exc.messages.get("", ()))
    elif isinstance(exc, CODE_ERRORS):
        errors = {"code": (exc.message,)}
    else:
        alerts = (exc.message,)
    return Explained(status_for(exc), errors, alerts, retry_headers(exc))


def retry_headers(exc: WidgetError) -> dict[str, str]:
    seconds = getattr(exc, "retry_after", None)
    return {"retry-after": str(seconds)} if seconds is not None else {}
