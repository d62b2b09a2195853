"""User-visible text, by stable message id.

Code and tests speak in ids (``"form.required"``) and params; English lives only in
``CATALOG``. A theme may re-word any id (``copy`` tokens), so nothing may parse the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec

Level = Literal["error", "info"]


class Msg(msgspec.Struct, frozen=True, kw_only=True):
    """One message for the user: a stable id, the values its text needs, and a level."""

    id: str
    params: dict[str, str | int] = msgspec.field(default_factory=dict)
    level: Level = "error"

    def text(self, copy: Mapping[str, str] | None = None) -> str:
        template = (copy or {}).get(self.id) or CATALOG.get(self.id, self.id)
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            # A theme's re-wording with a wrong placeholder must not break the page.
            return CATALOG.get(self.id, self.id).format(**self.params)


def msg(id: str, level: Level = "error", **params: str | int) -> Msg:
    if id not in CATALOG:
        raise KeyError(f"unknown message id {id!r}")
    return Msg(id=id, params=dict(params), level=level)


CATALOG: dict[str, str] = {
    # Form fields (schema validation). Attached to one field.
    "form.required": "This field is required.",
    "form.too_short": "Use at least {min} characters.",
    "form.too_long": "Use at most {max} characters.",
    "form.pattern": "This doesn't match the expected format.",
    "form.enum": "Choose one of the options.",
    "form.type": "Enter a valid {type}.",
    "form.minimum": "Enter {min} or more.",
    "form.maximum": "Enter {max} or less.",
    "form.must_accept": "You need to accept this to continue.",
    "form.email_invalid": "Enter a valid email address.",
    "form.phone_invalid": "Enter a valid phone number, including the country code.",
    "form.date_invalid": "Enter a valid date (YYYY-MM-DD).",
    "form.unknown_field": "This form does not accept the field “{field}”.",
    "form.duplicate_field": "The field “{field}” was sent more than once.",
    "form.invalid": "This value is not valid.",
    "form.invalid_utf8": "The field “{field}” could not be read: it is not valid UTF-8 text.",
    "ui.unreadable_title": "The request could not be read",
    "identifier.confusable": "This address mixes letters from different alphabets that look "
    "alike. Type it again using one alphabet.",
    "form.optional": "(optional)",
    "form.choose": "Choose…",
    # Password policy. Errors attach to the password field; help texts list the rules.
    "password.too_short": "Use at least {min} characters.",
    "password.too_long": "Use at most {max} characters.",
    "password.control_characters": "Passwords can't contain control characters (such as a "
    "tab, a line break or a NUL). Use letters, digits, spaces and symbols.",
    "password.common": "This password is too common. Choose one that is harder to guess.",
    "password.similar": "This password is too similar to your {identifier}.",
    "password.keep": "Leave empty to keep the password you already chose.",
    "password.help.min_length": "At least {min} characters",
    "password.help.max_length": "At most {max} characters",
    "password.help.common": "Not a commonly used password",
    "password.help.similar": "Not similar to your email address",
    "password.similar_details": "This password is too similar to your personal details.",
    "password.need_digits": "Include at least {min} digit(s).",
    "password.need_lowercase": "Include at least {min} lowercase letter(s).",
    "password.need_uppercase": "Include at least {min} uppercase letter(s).",
    "password.need_special": "Include at least {min} character(s) that aren't letters or digits.",
    "password.help.similar_phone": "Not similar to your phone number",
    "password.help.digits": "At least {min} digit(s)",
    "password.help.lowercase": "At least {min} lowercase letter(s)",
    "password.help.uppercase": "At least {min} uppercase letter(s)",
    "password.help.special": "At least {min} character(s) that aren't letters or digits",
    # Flows. Attached to the whole form.
    "flow.csrf": "This form expired or was changed. Please try again.",
    "flow.expired": "This page expired, so we started again. Please fill in the form once more.",
    "flow.not_found": "We couldn't find this registration. Please start again.",
    "flow.completed": "This registration is already complete.",
    "flow.wrong_step": "This step is not available right now.",
    "flow.malformed": "The form could not be read. Please try again.",
    "registration.disabled": "Sign-up is closed here. Ask your administrator for an account.",
    "registration.check_email": "We sent a 6-digit code to {address}. Enter it below.",
    "registration.done": "Your account is ready.",
    "pool.not_found": "This sign-up form does not exist.",
    # One-time codes.
    "code.invalid": "That code isn't right. {remaining} attempts left.",
    "code.format": "Enter the 6 digits from the message.",
    "code.expired": "This code has expired. Ask for a new one.",
    "code.exhausted": "Too many wrong codes. Ask for a new one.",
    "code.resend_cooldown": "You can ask for a new code in {seconds} seconds.",
    "code.resent": "We sent a new code to {address}.",
    # Fixed copy of the widget's pages (themes re-word these like any other id).
    "ui.create_account_title": "Create your account",
    "ui.step_of": "Step {n} of {total}",
    "ui.sign_up_for": "Sign up for {pool}",
    "ui.progress": "Progress",
    "ui.create_account": "Create account",
    "ui.continue": "Continue",
    "ui.back": "Back",
    "ui.check_email_title": "Check your email",
    "ui.code_label": "Verification code",
    "ui.code_help": "The code expires in {minutes} minutes.",
    "ui.verify": "Verify and continue",
    "ui.resend": "Send a new code",
    "ui.done_title": "You're all set",
    "ui.done_sign_in": "Sign in",
    "ui.done_continue": "Continue",
    "ui.done_close": "Close",
    "ui.done_text": "Your {pool} account is active.",
    "ui.done_text_address": "Your {pool} account is active and {address} is verified.",
    "ui.closed_title": "Sign-up is closed",
    # The footer of every end-user card ("{product}" is the product's name in bold).
    "ui.secured_by": "Secured by {product}",
    "ui.not_found_title": "Not found",
    "ui.refused_frame_title": "This form can't be shown here",
    "ui.password_label": "Password",
    # Server.
    "server.busy": "We're busy right now. Please try again in a few seconds.",
    # The widget while the password hashing is refused for load (web/widget/busy.py):
    # with JavaScript it keeps what was typed and sends it again by itself after the
    # countdown ("{seconds}" counts down in the page); without, the page says when.
    "busy.registration": "Lots of people are signing up right now — we'll keep trying.",
    "busy.login": "Lots of people are signing in right now — we'll keep trying.",
    "busy.countdown": "Trying again in {seconds} s…",
    "busy.retrying": "Trying again…",
    "busy.registration_later": (
        "Lots of people are signing up right now. Please send the form again in "
        "{seconds} s; we kept what you typed except your password."
    ),
    "busy.login_later": "Lots of people are signing in right now. Please try again in {seconds} s.",
    "server.too_large": "That was more than this form accepts.",
    # Administration (API and portal).
    "admin.unauthenticated": "Sign in, or send a valid API key.",
    "admin.not_found": "Not found.",
    "funnel.range_reversed": "The first day must not be after the last.",
    "funnel.range_too_long": "Choose at most {max} days.",
    "funnel.bad_date": "Enter a date as YYYY-MM-DD.",
    "admin.forbidden": "Your role does not allow this.",
    "admin.login_failed": "That email and password do not match an administrator.",
    "admin.unknown_field": "Unknown field.",
    "admin.bad_cursor": (
        "This page link is not valid for this search. Start again from the first page."
    ),
    "admin.bad_date": "Enter a date as YYYY-MM-DD, or a date and time in ISO 8601.",
    "admin.invalid_value": "{detail}",
    "admin.id_taken": "This id is already taken.",
    "admin.id_reserved": "Ids starting with builtin- are reserved.",
    "admin.email_taken": "An administrator with this email already exists.",
    "admin.address_taken": "This address already belongs to a user of this pool.",
    "admin.pool_not_empty": "This pool still has {count} users. Delete them first.",
    "admin.schema_builtin": "Built-in schemas cannot be changed or deleted. Copy it instead.",
    "admin.schema_in_use": "This schema is used by {count} pools.",
    "admin.status_transition": "A {status} user cannot be {action}.",
    "admin.role_scope": "A {role} must be scoped to {scope}.",
    "admin.escalation": "You cannot grant a role above your own.",
    "admin.self_change": "You cannot change or revoke your own access.",
    "admin.email_domain": "Addresses of this pool must end in {domains}.",
    "admin.invalid_pool_id": (
        "2 to 63 lower-case letters, digits and dashes, starting with a letter or digit."
    ),
    "admin.unknown_template": "There is no such template.",
    "admin.invalid_methods": "Choose email, phone, or both.",
    "admin.unknown_schema": "There is no such schema.",
    "admin.schema_kind": "This must be a {kind} schema.",
    "admin.pool_has_admins": "{count} administrators are scoped to this pool. Revoke them first.",
    "admin.too_many": "At most {limit} entries.",
    "admin.invalid_origin": "{origin} is not an origin (scheme://host[:port], no path).",
    "after.url_required": "Give the address to continue to.",
    "after.url_invalid": "Use an absolute https:// address without credentials or fragment "
    "(http:// only on localhost).",
    "after.url_untrusted": "Continue only to one of the allowed origins (or, for an app, one "
    "of its redirect URIs).",
    "admin.invalid_domain": "{domain} is not a domain name.",
    "admin.unknown_pool": "There is no such pool.",
    "admin.api_key_fields": "API keys have no email or password.",
    "admin.invalid_body": "The request could not be read: {detail}",
    "admin.http_error": "{detail}",
    # Admin portal (web/portal*.py): sign-in, session, forms.
    "admin.login_throttled": "Too many failed sign-ins. Try again in {seconds} seconds.",
    "admin.signed_out": "You are signed out.",
    "admin.session_expired": "Your session ended. Please sign in again.",
    "admin.csrf": "This form expired or came from another site. Reload the page and try again.",
    "admin.saved": "Saved.",
    "admin.json_invalid": "This is not valid JSON: {detail}",
    "admin.json_object": "Enter a JSON object ({{ … }}).",
    "admin.not_a_number": "Enter a whole number.",
    "admin.pool_created": "The pool is ready. Review its settings below.",
    "admin.pool_deleted": "The pool was deleted.",
    "admin.schema_impact": "{count} existing users do not validate against this schema.",
    "admin.schema_impact_none": "All existing users validate against this schema.",
    "admin.user_created": "The user was created.",
    "admin.user_deleted": "The user was deleted; their personal data is erased.",
    "admin.user_updated": "The user was updated.",
    "admin.invitation_sent": "A new activation code is on its way.",
    "admin.sessions_revoked": "The user's sessions were signed out.",
    "admin.admin_revoked": "Access was revoked.",
    "admin.schema_saved": "The schema was saved.",
    "admin.schema_deleted": "The schema was deleted.",
    "admin.fix_fields": "Nothing was saved: see the messages by each field below.",
    # Users administered (admin/users.py, users/*, the invitation and set-password pages).
    "admin.identifier_readonly": "The sign-in address cannot be changed here.",
    "admin.identifier_in_payload": "The sign-in address goes in “email”, not in the payload.",
    "admin.identifier_not_email": (
        "Users of this pool sign in with a phone number; they register themselves."
    ),
    "admin.identifier_is_phone": "Users of this pool sign in with a phone number: give "
    "“phone”, not “email”.",
    "admin.identifier_is_email": "Users of this pool sign in with an email address: give "
    "“email”, not “phone”.",
    "admin.password_or_link": (
        "An active user needs a password or a set-password link (one of the two)."
    ),
    "admin.not_pending": "Only users waiting for activation can get a new invitation.",
    "admin.too_large": "This is larger than {max} bytes.",
    "admin.limit": "Choose between 1 and {max}.",
    # Background jobs: exports, imports, bulk actions (widget_server/jobs).
    "jobs.busy": (
        "An import or bulk action is already queued or running in this pool. Wait for it "
        "to finish, or cancel it first."
    ),
    "jobs.finished": "This job has finished already.",
    "jobs.not_downloadable": "This export is not ready, or it was downloaded already.",
    "jobs.requester_gone": "The administrator who started this job no longer has access.",
    "jobs.failed": "The job stopped because of an error on the server.",
    "jobs.file_gone": "The job's file is missing on the server.",
    "jobs.queued": "The job was started. Its progress shows below.",
    "jobs.cancelled": "The job was cancelled.",
    "jobs.unknown_column": "There is no column “{column}”.",
    "jobs.no_columns": "Choose at least one column.",
    "jobs.no_users": "Choose at least one user, or all users matching the search.",
    "jobs.too_many_ids": "At most {max} users by id; use “all matching this search” for more.",
    "jobs.metadata_key": "Name the metadata field (letters, digits, _ and -, up to 64).",
    "jobs.file_missing": "Choose a file to import.",
    "jobs.file_too_large": "The file is larger than {max} bytes.",
    "jobs.not_checked": "Check the file first: only a finished dry run can be imported.",
    "import.encoding": "This line is not UTF-8 text.",
    "import.header_missing": "The first line must name the columns, “email” among them.",
    "import.unknown_column": "Unknown column “{column}”.",
    "import.duplicate_column": "The column “{column}” appears twice.",
    "import.line_too_long": "This line is longer than {max} bytes.",
    "import.cells": "This line has {found} values where the header names {expected}.",
    "import.csv_malformed": "This line is not valid CSV: {detail}",
    "import.json_malformed": "This line is not a JSON object: {detail}",
    "import.duplicate_in_file": "This address appears earlier in the file (line {line}).",
    "import.address_exists": "A user of this pool already has this address.",
    "import.hash_unknown": (
        "This password hash is not in a supported format (argon2, bcrypt, scrypt, PBKDF2)."
    ),
    "import.active_needs_hash": (
        "An active user needs a password hash; import them as new to send an invitation."
    ),
    "import.status": "Status must be new or active.",
    "import.empty": "The file has no rows.",
    "invitation.enter_code": "Enter the 6-digit code from your invitation to {pool}.",
    "invitation.not_found": (
        "This link is not valid (any more). Ask your administrator for a new invitation."
    ),
    "invitation.expired": "This link has expired. Ask your administrator for a new one.",
    "invitation.too_many_codes": (
        "No more new codes for this invitation. Ask your administrator to send a new one."
    ),
    "ui.activate_title": "Activate your account",
    "ui.choose_password_title": "Choose your password",
    "ui.choose_password_text": "Almost done: choose a password for {address}",
    "ui.invited_to": "Your invitation to {pool}",
    "ui.set_password": "Save password",
    "ui.password_set_title": "Your password is set",
    "ui.password_set_text": "You can now sign in to {pool} with {address}.",
    "ui.link_invalid_title": "This link does not work",
    # Custom identity schemas and password history (forms/safety.py, passwords/history.py).
    # Schema messages attach to the uploaded "body"; {where} is a JSON pointer into it.
    "schema.not_object": "A schema must be a JSON object.",
    "schema.invalid": "Not a valid JSON Schema (draft 2020-12) at {where}: {detail}",
    "schema.draft": '"$schema" must be {draft}, or left out.',
    "schema.type_object": 'The schema must describe an object: "type": "object".',
    "schema.remote_ref": 'The reference at {where} must point inside this schema ("#/…").',
    "schema.dangling_ref": "The reference at {where} points to nothing in this schema.",
    "schema.nested_id": '"$id" is only allowed at the top of the schema, not at {where}.',
    "schema.bad_pattern": "The pattern at {where} is not a valid regular expression: {detail}",
    "schema.pattern_too_long": "The pattern at {where} is longer than {max} characters.",
    "schema.pattern_too_complex": "The pattern at {where} is too complex: it compiles to more "
    "than {max} instructions. Use smaller repetition counts.",
    "schema.reserved_field": 'The property "{name}" at {where} has a name the sign-up form '
    "uses for itself; rename it.",
    "schema.unrunnable": "This schema holds regular expressions this server cannot run (it "
    "was stored before patterns ran with a linear-time engine): the fields they belong to "
    "refuse every value until the schema is fixed.",
    "schema.unsupported_pattern": "The pattern at {where} uses what this server's "
    "linear-time regular-expression engine does not run (backreferences, look-ahead or "
    r"look-behind, \Z): {detail}",
    "schema.unevaluated_pattern_properties": '"unevaluatedProperties" cannot be used together '
    "with the patterns at {where}. Use additionalProperties instead.",
    "schema.too_large": "The schema is larger than {max} bytes.",
    "schema.too_deep": "The schema is nested deeper than {max} levels.",
    "schema.too_many_properties": "The schema defines more than {max} properties.",
    "schema.payload": "This schema cannot be used for a sign-up form: {detail}",
    "schema.ref_cycle": "The reference to {where} leads back to itself without reading any data.",
    "password.help.history": "Not one of your last {count} passwords",
    "password.history": "You used this password recently. Choose one you have not used "
    "for your last {count} passwords.",
    # Apps, authorization and consent (OAuth 2.0 / OpenID Connect: admin/apps.py, web/oidc*.py).
    "oauth.error": "The sign-in request was refused.",
    "oauth.invalid_client": "This application is not known, or no longer active.",
    "oauth.invalid_redirect_uri": "The address this application asked to return to is not "
    "registered for it. Nothing was sent; please tell the application's developers.",
    "oauth.invalid_request": "The sign-in request from this application is incomplete or "
    "malformed ({detail}).",
    "oauth.error_title": "This sign-in cannot continue",
    "oauth.request_gone": "This sign-in request has expired or was already used. Go back to "
    "the application and start again.",
    "oauth.session_missing": "Your sign-in did not reach this page (your browser may block "
    "cookies). Go back to the application and start again.",
    "oauth.consent_title": "{app} wants to access your account",
    "oauth.consent_intro": "Signed in as {user}. {app} is asking for:",
    "oauth.consent_allow": "Allow",
    "oauth.consent_deny": "Deny",
    "oauth.consent_footer": "You can change your mind later: ask {app} to sign you out, or "
    "contact your administrator.",
    "oauth.consent_redirect_note": "After you choose, you return to {host}.",
    "oauth.scope.openid": "Know who you are (your user id in {pool})",
    "oauth.scope.email": "Your email address",
    "oauth.scope.phone": "Your phone number",
    "oauth.scope.profile": "Your profile details",
    "oauth.scope.roles": "Your roles",
    "oauth.scope.groups": "Your groups",
    "app.redirect_uri_invalid": "Use an absolute https:// address without a fragment "
    "(http:// only for localhost): {value}",
    "app.pool_unknown": "No pool {value} in this tenant.",
    "app.scope_unknown": "Unknown scope {value}; allowed: {allowed}.",
    "app.public_no_secret": "A public app has no client secret; it uses PKCE instead.",
    "app.revoked": "This app is revoked; create a new one.",
    "app.needs_pool": "An app needs at least one pool.",
    "app.grace_invalid": "Choose how long the old secret keeps working: {allowed} seconds.",
    # Webhook endpoints (widget_server/webhooks/manage.py, deliveries.py).
    "webhook.url_invalid": "Enter an absolute https:// address without a fragment.",
    "webhook.url_https": "Use https:// (http:// only for localhost in development).",
    "webhook.url_private": "This address is inside a private network; webhooks go to "
    "public addresses only.",
    "webhook.url_credentials": "Leave the user name and password out of the address; "
    "check the webhook-signature header instead.",
    "webhook.owner": "Choose either a pool or an app for the endpoint, not both.",
    "webhook.unknown_event": "Unknown event type {value}; known: {allowed}.",
    "webhook.too_many": "This pool or app already has {limit} endpoints.",
    "webhook.grace": "Choose a grace period between 0 and {max} seconds.",
    "webhook.disabled": "This endpoint is disabled; enable it first.",
    "webhook.created": "The endpoint was added. Copy its signing secret now: it is shown once.",
    "webhook.rotated": "A new signing secret is active. The previous one also signs until {until}.",
    "webhook.test_sent": "A test event is on its way.",
    "webhook.resent": "The event is being sent again.",
    "webhook.deleted": "The endpoint was deleted; nothing more is sent to it.",
    # End-user login, sessions, recovery and logout (flows/login.py, flows/recovery.py,
    # web/login.py, web/recovery.py).
    "login.failed": "That sign-in didn't work. Check your details and try again.",
    "login.throttled": "Too many sign-in attempts. Try again in {seconds} seconds.",
    "login.unknown_app": "This sign-in form is not set up for this application.",
    "login.mfa_required": "One more step: confirm it's you with your second factor.",
    "login.done": "This sign-in is already complete.",
    "login.signed_out": "You are signed out.",
    "login.session_ended": "Your session has ended. Please sign in again.",
    "recovery.sent": "If an account exists for {address}, we sent a 6-digit code to it. "
    "Enter it below.",
    "recovery.complete": "This password reset is already complete.",
    "recovery.done": "Your password was changed, and wherever you were signed in, you are "
    "signed out now.",
    "ui.login_title": "Sign in",
    "ui.login_to": "Sign in to {pool}",
    "ui.identifier_email": "Email",
    "ui.identifier_email_or_phone": "Email or phone number",
    "ui.identifier_phone": "Phone number",
    "ui.log_in": "Sign in",
    "ui.forgot_password": "Forgot your password?",
    "ui.no_account": "No account yet?",
    "ui.register_link": "Create one",
    "ui.logged_in_title": "You're signed in",
    "ui.logged_in_text": "You are signed in to {pool}.",
    "ui.signed_in_as": "Signed in as {identifier}",
    "ui.log_out": "Sign out",
    "ui.switch_account": "Sign in with another account",
    "ui.signed_out_title": "You're signed out",
    "ui.sign_in_again": "Sign in again",
    "ui.mfa_title": "Confirm it's you",
    "ui.recover_title": "Reset your password",
    "ui.recover_text": "Enter the email address or phone number of your account. We'll send "
    "you a code.",
    "ui.send_code": "Send code",
    "ui.new_password_title": "Choose a new password",
    "ui.new_password_label": "New password",
    "ui.save_new_password": "Save new password",
    "ui.recovered_title": "Your password was changed",
    "ui.back_to_login": "Back to sign in",
    # Phone numbers and SMS (widget_server/phones.py, widget_server/sms/, phone activation).
    "phone.invalid": "Enter a valid phone number, including the country code.",
    "claims.unknown_claim": "“{claim}” is not a profile claim this server issues.",
    "claims.bad_source": "Name a field as payload.<field> or metadata.<field>.",
    "claims.unknown_field": "The pool's schema has no field “{field}”.",
    "claims.not_text": "“{field}” does not hold text, so it cannot feed a claim.",
    "claims.too_many": "Map at most {max} claims.",
    "phone.letters": "Enter the number in digits. Letters aren't accepted in a phone number.",
    "phone.type_refused": "Enter a mobile or landline number. Premium-rate, toll-free, shared-cost "
    "and service numbers can't receive codes.",
    "phone.region_refused": "Phone numbers from this country aren't accepted here. Use a number "
    "from: {regions}.",
    "registration.check_phone": "We sent a 6-digit code by SMS to {address}. Enter it below.",
    "ui.check_phone_title": "Check your phone",
    # Second factors and the self-service account portal (auth/mfa.py, flows/mfa.py,
    # account/*, web/account*.py, web/mfa.py).
    "mfa.code_invalid": "That code isn't right. Check your authenticator app and try again.",
    "mfa.code_reused": "This code was already used. Wait for the next one in your app.",
    "mfa.throttled": "Too many attempts. Try again in {seconds} seconds.",
    "mfa.unavailable": "We can't send you a code: your account has no verified email address "
    "or phone number. Ask your administrator for help.",
    "mfa.already_enrolled": "An authenticator app is already set up. Turn it off first to "
    "set up another one.",
    "mfa.no_pending": "This setup is no longer open. Start again.",
    "mfa.not_offered": "Two-step verification is not offered here.",
    "mfa.code_sent": "We sent a 6-digit code to {address}. Enter it below.",
    "mfa.enter_totp": "Enter the 6-digit code from your authenticator app.",
    "mfa.enter_email_code": "We'll send a 6-digit code to {address}.",
    "mfa.enrolled": "Two-step verification is on: you'll need a code from your app to sign in.",
    "mfa.disabled": "Your authenticator app was removed from your account.",
    "mfa.scan": (
        "Scan the QR code with your authenticator app, or type the setup key into it, "
        "then enter the code it shows."
    ),
    "account.signed_out": "Sign in to manage your account.",
    "account.csrf": "This form expired or came from another page. Reload and try again.",
    "account.saved": "Your profile was saved.",
    "account.field_readonly": "“{field}” cannot be changed here.",
    "account.password_incorrect": "That is not your current password.",
    "account.password_changed": "Your password was changed. Every other session was signed out.",
    "account.address_code_sent": "We sent a 6-digit code to {address}. Enter it below to "
    "add the address.",
    "account.address_verified": "The address is verified and added to your account.",
    "account.address_removed": "The address was removed from your account.",
    "account.address_exists": "This address is already on your account.",
    "account.address_primary": "Your sign-in address cannot be removed.",
    "account.address_unknown": "This address is not on your account.",
    "account.too_many_addresses": "You can have at most {max} addresses.",
    "account.phone_unavailable": "Only email addresses can be added here.",
    "account.no_pending_address": "No address is waiting for a code. Add it again.",
    "account.session_ended": "That session was signed out.",
    "account.sessions_ended": "Every other session was signed out.",
    "account.session_unknown": "That session is not active any more.",
    "ui.account_title": "Your account",
    "ui.account_for": "Your {pool} account",
    "ui.manage_account": "Manage your account",
    "ui.profile_title": "Profile",
    "ui.save_profile": "Save changes",
    "ui.password_title": "Password",
    "ui.current_password": "Current password",
    "ui.change_password": "Change password",
    "ui.addresses_title": "Email addresses",
    "ui.addresses_title_phone": "Email addresses and phone numbers",
    "ui.new_address_or_phone_label": "Add an email address or phone number",
    "ui.address_phone_help": "We'll send a 6-digit code to it: by email, or by text message.",
    "ui.new_address_label": "Add an email address",
    "ui.add_address": "Send code",
    "ui.address_primary": "Sign-in address",
    "ui.address_verified": "Verified",
    "ui.remove": "Remove",
    "ui.cancel": "Cancel",
    "ui.sessions_title": "Where you're signed in",
    "ui.session_this": "This browser",
    "ui.session_signed_in": "Signed in {when}",
    "ui.session_last_seen": "last active {when}",
    "ui.session_unknown_device": "Unknown browser",
    "ui.end_session": "Sign out",
    "ui.end_other_sessions": "Sign out everywhere else",
    "ui.mfa_section_title": "Two-step verification",
    "ui.mfa_off_text": "Protect your account with a code from an authenticator app when you "
    "sign in.",
    "ui.mfa_on_badge": "On",
    "ui.mfa_on_text": "On: you confirm each sign-in with a code from your authenticator app.",
    "ui.mfa_required_text": "This service asks for a second step at every sign-in. Without an "
    "app, we email you a code.",
    "ui.mfa_set_up": "Set up an authenticator app",
    "ui.mfa_secret_label": "Setup key",
    "ui.mfa_uri_label": "Open in an authenticator app",
    "ui.mfa_qr_label": "QR code for your authenticator app",
    "ui.mfa_confirm": "Turn on",
    "ui.mfa_disable": "Turn off",
    "ui.mfa_code_label": "6-digit code",
    "ui.mfa_verify": "Verify",
    "ui.mfa_use_email": "Email me a code instead",
    "ui.mfa_use_sms": "Text me a code instead",
    "ui.mfa_send_email": "Send me a code",
    "ui.mfa_resend_email": "Send a new code",
    "ui.mfa_use_app": "Use my authenticator app instead",
    # The developer portal's snippet generator (developers/snippets.py). Errors attach to
    # the request field; notes are shown beside the snippet.
    "snippet.public_url_invalid": "The public URL must be an origin: https://host[:port], "
    "without a path.",
    "snippet.no_pool": "No pool is in your reach yet. Ask the operator who invited you to "
    "give you a pool or a workspace.",
    "snippet.value_invalid": "Choose one of the options, or a value of at most 255 characters.",
    "snippet.client_id_required": "Choose an app: the backend code exchanges that app's "
    "login code.",
    "snippet.backend_needs_secret": "A public app has no secret to exchange the embedded "
    "login's code with. Use a confidential app, or the redirect flow with PKCE.",
    "snippet.note.secret": "Keep the client secret out of your code and repository: the "
    "snippet reads it from the environment variable {variable}.",
    "snippet.note.callback": "Your page posts the login code to {path} on your own site; keep "
    "that path the same in the frontend and backend snippets.",
    "snippet.note.code_from_login": "The code comes only with an app's login (the logged-in "
    "event); your backend learns about new registrations through the user.registered webhook.",
    "snippet.note.allow_origin": "The widget shows only on pages whose origin is allowed for "
    "pool {pool} or for the app: add your page's exact origin (scheme, host and port) in the "
    "developer portal. Until then the page shows a fallback and gets an error event.",
    "snippet.note.iframe": "A plain iframe keeps the height you give it and sends your page no "
    "events; use the script tag for both.",
    "snippet.note.code_exchange": "The logged-in event carries a one-time code (single use, "
    "60 s). The snippet posts it to {path} on your site; exchange it there with a backend "
    "snippet.",
    "snippet.note.public_app": "A public app cannot exchange the embedded login's code yet: "
    "use the redirect flow with PKCE, or a confidential app.",
    "snippet.note.client_id_unused": "The {flow} widget does not use an app's client id; only "
    "the login flow does.",
    "snippet.note.events_are_hints": "Events are a signal for your page, not proof: anything "
    "on the page can dispatch one. Grant access only after your backend verified a token.",
    "snippet.note.csp": "If your page sends a Content-Security-Policy, add the sources below "
    "to its directives. A sha256 source allows exactly the snippet's inline block: recompute "
    "it if you edit the block. With a nonce instead, put the same per-response value in "
    'nonce="…" on the snippet\'s script and style tags.',
    # The installation: which database and secret key a server or CLI run acts on
    # (installation.py, cli_target.py). Read by operators in a terminal.
    "install.no_database": "There is no database at {url}. Run this from the folder the "
    "server runs in, set WIDGET_DATABASE_URL to the server's database, or pass --create to "
    "set up a new one there.",
    "install.not_migrated": "{url} is not a widget-server database (no migrations were ever "
    "applied to it). Run this from the folder the server runs in, set WIDGET_DATABASE_URL to "
    "the server's database, or pass --create to set this one up.",
    "install.unreachable": "Cannot open the database {url} ({detail}). Check WIDGET_DATABASE_URL.",
    "install.no_secret": "There is no secret key: WIDGET_SECRET_KEY is not set and {path} "
    "does not exist. Run this from the folder the server runs in (it keeps its key in "
    ".data/secret.key), or set WIDGET_SECRET_KEY to the server's key.",
    "install.no_fingerprint": "{url} does not record yet which secret key it belongs to (it "
    "was set up before that was recorded). Start the server once, or run `widget-server "
    "migrate` with the server's key, or pass --create if the key from {source} is the "
    "server's.",
    "install.key_mismatch": "The secret key from {source} is not the one {url} was set up "
    "with: API keys, invitation links, codes, sessions, CSRF tokens, encrypted TOTP seeds and "
    "signing keys made under one are unreadable under the other. Use the key it was set up "
    "with: set WIDGET_SECRET_KEY to it, or run from the folder whose .data/secret.key holds it.",
    # The brand studio (widget_server/branding): themes, assets, workspaces, delegation.
    "brand.builtin_readonly": "Built-in themes cannot be changed. Copy one into a theme of "
    "your own.",
    "brand.unknown_theme": "There is no such theme.",
    "brand.invalid_token": "{detail}",
    "brand.draft_changed": "Someone saved this theme since you opened it (now revision "
    "{revision}). Reload to see their changes.",
    "brand.unknown_version": "This theme has no published version {version}.",
    "brand.not_published": "Publish this theme before assigning it.",
    "brand.theme_in_use": "This theme is assigned in {count} places. Assign another theme there "
    "first.",
    "brand.theme_scope": "This theme belongs to another workspace or pool and cannot be used here.",
    "brand.unknown_target": "There is no such {kind}.",
    "brand.contrast_failures": "These colour pairs are below WCAG 2.2 AA contrast: {pairs}. "
    "Fix them, or publish anyway to accept them.",
    "brand.published": "Version {version} is live.",
    "brand.asset_missing": "The file this uses ({sha256}) is not uploaded (or was deleted). "
    "Upload it again or choose another.",
    "brand.asset_kind": "This needs an uploaded {kind}.",
    "brand.asset_in_use": "A published theme uses this file. Publish a version without it first.",
    "brand.unknown_asset": "There is no such file.",
    "brand.asset_empty": "This file is empty.",
    "brand.asset_too_large": "This file is larger than {max_kb} KB.",
    "brand.asset_type": "This is not a PNG, JPEG, WebP or SVG image, or a WOFF2 font. Files are "
    "recognised by their content, not their name.",
    "brand.asset_corrupt": "This image could not be read. Export it again and upload the new file.",
    "brand.asset_dimensions": "This image is {width} by {height} pixels; at most {max} by "
    "{max} are accepted.",
    "brand.font_magic": "This is not a WOFF2 font: its content does not start with wOF2.",
    "brand.font_corrupt": "This WOFF2 font is damaged: its header does not match its size.",
    "brand.svg_invalid": "This SVG could not be read as XML.",
    "brand.svg_doctype": "SVG with a DOCTYPE or entity declarations is not accepted.",
    "brand.svg_script": "SVG with scripts is not accepted.",
    "brand.svg_event_handler": "SVG with event handlers ({attribute}) is not accepted.",
    "brand.svg_external_reference": "SVG that loads other files ({reference}) is not "
    "accepted; embed everything in the file.",
    "brand.svg_foreign_object": "SVG with foreignObject (embedded HTML) is not accepted.",
    "brand.workspace_name_taken": "A workspace with this name already exists.",
    "brand.unknown_workspace": "There is no such workspace.",
    "brand.workspace_not_empty": "This workspace still holds {count} pools, apps, themes or "
    "administrators. Move or remove them first.",
    "brand.pool_uses_workspace_theme": "This pool uses a theme of its workspace. Assign it "
    "another theme before moving it.",
    "brand.import_invalid": "This is not a theme file: {detail}",
    "brand.import_hash": "An embedded file does not match its SHA-256 ({sha256}).",
    # The brand studio's pages (web/studio).
    "studio.saved": "Draft saved. Nothing is live until you publish.",
    "studio.published": "Published: the new version is live wherever this theme is assigned.",
    "studio.rolled_back": "Rolled back: the earlier version is live again as a new version.",
    "studio.assigned": "Assignment saved.",
    "studio.imported": "Theme imported as a draft.",
    "studio.deleted": "Theme deleted.",
    "studio.workspace_saved": "Workspace saved.",
    "studio.workspace_deleted": "Workspace deleted.",
    "studio.contrast_warning": "This theme is below WCAG 2.2 AA contrast ({pairs}). People with "
    "low vision may not be able to read it. Fix the colours, or publish anyway.",
    "studio.import_missing": "Choose a theme file (.json) to import.",
    "studio.upload_missing": "Choose a file to upload.",
    "policy.below_floor": "Your organisation requires {field} of at least {min}.",
    "policy.floor_requires": "Your organisation requires the {field} check.",
    # Emails (mail/compose.py): subject, heading, intro, button and closing line of each;
    # a theme re-words them like any other id, in both the HTML and the text part.
    "email.activation_code.subject": "{code} is your {pool} verification code",
    "email.activation_code.heading": "Your {pool} verification code",
    "email.activation_code.intro": "Enter this code on the sign-up page to activate your account.",
    "email.activation_code.footer": "The code expires in {minutes} minutes and works once. If "
    "you did not try to create an account, ignore this email: nothing happens without the code.",
    "email.already_registered.subject": "Someone tried to sign up to {pool} with your address",
    "email.already_registered.heading": "You already have a {pool} account",
    "email.already_registered.intro": "Someone just tried to create an account with this email "
    "address. Nothing was changed.",
    "email.already_registered.footer": "If it was you, sign in instead. If it was not you, "
    "ignore this email.",
    "email.invitation.subject": "{code} is your code to activate your {pool} account",
    "email.invitation.heading": "You have been invited to {pool}",
    "email.invitation.intro": "Open the activation page and enter this code.",
    "email.invitation.button": "Activate your account",
    "email.invitation.footer": "The invitation is valid for {hours} hours and the code works "
    "once. If you did not expect it, ignore this email: nothing happens without the code.",
    "email.set_password.subject": "Choose your password for {pool}",
    "email.set_password.heading": "Your {pool} account is ready",
    "email.set_password.intro": "Choose your password to start using it.",
    "email.set_password.button": "Choose your password",
    "email.set_password.footer": "The link is valid for {hours} hours and works once. If you "
    "did not expect this email, ignore it.",
    "invitation.developer_unknown": "This invitation link is not valid. Check that the whole "
    "link was copied from the email, or ask whoever invited you to send it again.",
    "invitation.developer_used": "This invitation has been used already. Sign in with the email "
    "address and the password chosen then.",
    "invitation.developer_expired": "This invitation has expired. Ask whoever invited you to "
    "send it again.",
    "invitation.developer_revoked": "This invitation was withdrawn. Ask whoever invited you if "
    "you still need access.",
    "invitation.developer_taken": "This email address already has access to this portal. Sign "
    "in with it.",
    "invitation.developer_closed": "This invitation is used or withdrawn; it cannot be sent again.",
    "invitation.developer_resend_limit": "This invitation was sent {limit} times; withdraw it "
    "and invite again.",
    "invitation.developer_mismatch": "The two passwords differ.",
    "invitation.developer_sent": "Invitation sent.",
    "config.too_large": "The file is larger than {max} bytes.",
    "config.invalid": "This is not a developer configuration file: {detail}",
    "config.kind_changed": "App {app} is {kind} here; its kind cannot change. Register a new "
    "app instead.",
    "widget.storage_access.ask": "This browser keeps this sign-in apart from the page around "
    "it. Allow it to remember you here; if it cannot, you continue in a new window.",
    "widget.storage_access.button": "Allow and continue",
    "embed.refused_origin": "{pool} does not allow its form on {origin}.",
    "embed.refused_origin_help": "For the site's developer: allow {origin} for the pool (or "
    "your app) in the developer portal; its embed log lists the refused origins.",
    "embed_log.origin_invalid": "That is not an origin (scheme://host[:port]).",
    "embed_log.allowed": "{origin} may now embed the sign-in of {app}.",
    "email.developer_invitation.subject": "{inviter} invited you to the {tenant} developer portal",
    "email.developer_invitation.heading": "You are invited to build with {tenant}",
    "email.developer_invitation.intro": "{inviter} invited you as a developer for {scope}: "
    "register apps, get embed snippets and manage webhooks in the developer portal. Choose a "
    "password to get in.",
    "email.developer_invitation.button": "Choose your password",
    "email.developer_invitation.footer": "The link is valid for {hours} hours and works once. "
    "If you did not expect this email, ignore it.",
    "email.mfa_code.subject": "{code} is your {pool} sign-in code",
    "email.mfa_code.heading": "Your {pool} sign-in code",
    "email.mfa_code.intro": "Enter this code on the sign-in page to finish signing in.",
    "email.mfa_code.footer": "The code expires in {minutes} minutes and works once. If you are "
    "not signing in right now, someone knows your password: change it in your account settings.",
    "email.verify_address.subject": "{code} is your code to add this address to {pool}",
    "email.verify_address.heading": "Confirm your email address",
    "email.verify_address.intro": "Enter this code in your {pool} account settings to add this "
    "address.",
    "email.verify_address.footer": "The code expires in {minutes} minutes and works once. If you "
    "did not ask for this, ignore this email: nothing changes without the code.",
    "email.address_in_use.subject": "Someone tried to add your address to another {pool} account",
    "email.address_in_use.heading": "Your address stays yours",
    "email.address_in_use.intro": "Someone tried to add this email address to another {pool} "
    "account. It stays with your account: nothing was changed.",
    "email.address_in_use.footer": "If it was you, sign in with this address instead. If it was "
    "not you, ignore this email.",
    "email.recovery_code.subject": "{code} is your code to reset your {pool} password",
    "email.recovery_code.heading": "Reset your {pool} password",
    "email.recovery_code.intro": "Enter this code on the password reset page.",
    "email.recovery_code.footer": "The code expires in {minutes} minutes and works once. If you "
    "did not ask to reset your password, ignore this email: nothing changes without the code.",
    "email.password_changed.subject": "Your {pool} password was changed",
    "email.password_changed.heading": "Your password was changed",
    "email.password_changed.intro": "The password of your {pool} account was just changed, and "
    "every other session was signed out.",
    "email.password_changed.footer": "If this was you, there is nothing to do. If it was not "
    "you, reset your password now with “Forgot your password?” on the sign-in page, and tell "
    "your administrator.",
}
