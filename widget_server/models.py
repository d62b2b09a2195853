"""Tables. One class per noun of the design; behaviour lives in the services, not here.

Hash columns (credential hashes, code and CSRF HMACs) sit in their own columns that no
page renders; the password hash of an unfinished registration lives on the flow only
until the user is created.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Installation(Base):
    """One row of facts about the installation that every process and CLI run must agree
    on. ``key_fingerprint`` is an HMAC of a fixed label under the secret key (never the key):
    a process started with another key would read no code, CSRF token or encrypted seed
    that the others wrote, so it refuses to start instead (``widget_server.installation``)."""

    __tablename__ = "installation"
    __table_args__ = (CheckConstraint("id = 1", name="ck_installation_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    theme: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The least a pool's password policy may ask for (``PasswordFloor`` fields), whoever
    #: sets it; NULL: no floor beyond the policy's own limits.
    password_floor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Workspace(Base):
    """A group of a tenant's pools (and apps): "Partners", "Employees". Every pool belongs
    to one; themes and administrators may be scoped to one."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_workspace_tenant_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IdentitySchema(Base):
    __tablename__ = "schemas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: NULL for the built-in, read-only schemas.
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # payload | metadata
    body: Mapped[dict[str, Any]]
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Pool(Base):
    __tablename__ = "pools"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200))
    payload_schema_id: Mapped[str] = mapped_column(ForeignKey("schemas.id"))
    metadata_schema_id: Mapped[str | None] = mapped_column(ForeignKey("schemas.id"))
    password_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    activation_methods: Mapped[list[str]] = mapped_column(default=lambda: ["email"])
    self_registration: Mapped[bool] = mapped_column(Boolean, default=True)
    allowed_origins: Mapped[list[str]] = mapped_column(default=list)
    theme: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Lower-case domains an identifier must belong to; empty allows any (B2B employee pools).
    email_domains: Mapped[list[str]] = mapped_column(default=list)
    #: The sector template the pool was created from, for display only.
    template: Mapped[str | None] = mapped_column(String(32))
    session_lifetime_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    #: A session unused this long ends, whatever its absolute lifetime.
    session_idle_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    #: ISO 3166 regions phone numbers may come from; empty allows any (premium-rate and
    #: other non-personal number types are refused regardless).
    phone_regions: Mapped[list[str]] = mapped_column(default=list)
    #: Second factor: "off", "optional" (users may enrol) or "required".
    mfa: Mapped[str] = mapped_column(String(16), default="off")
    #: Bumped on every change; part of the rendered-form cache key.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: Never NULL once written by the services (branding/workspaces.py). Nullable in the
    #: table because SQLite can add a referencing column to a populated table only as
    #: nullable; making it NOT NULL would mean rebuilding ``pools``, which the foreign
    #: keys of its users forbid inside the migration's transaction.
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"), index=True)
    #: What the tenant lets the pool's own administrators do: brand the pool (its
    #: pool-level theme), and set its password policy above the tenant's floor.
    admins_may_brand: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    admins_may_set_policy: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    #: Standard OpenID Connect claim -> ``payload.<field>`` or ``metadata.<field>``
    #: (``oidc/mapping.py``); NULL: the mapping read from the pool's schema.
    claim_mapping: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    #: What the registration's done step offers (``flows/after_registration.py``).
    after_registration: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class User(Base):
    __tablename__ = "users"
    # Keyset pagination per sort order: (pool_id, key, id). The expression indexes of
    # migration 0009 (activated, last sign-in, name; trigram on PostgreSQL) are not
    # declared here: their text differs by dialect (``users/search_sql.py``).
    __table_args__ = (
        Index("ix_users_pool_created", "pool_id", "created_at", "id"),
        Index("ix_users_pool_address", "pool_id", "sort_address", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # new | active | inactive | deleted
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    #: The admin principal that created the user; NULL for self-registration. An
    #: admin-created ``new`` user waits for its owner and is never released as abandoned.
    created_by: Mapped[str | None] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None]
    #: The newest session's start; kept by a trigger on ``sessions`` (migration 0009).
    last_login_at: Mapped[datetime | None]
    #: The user's smallest address, ``''`` once erased: the sort key "address". Kept by
    #: triggers on ``addresses`` (migration 0009), whoever writes them. Nullable with no
    #: server default, as SQLite adds columns and the registration function inserts
    #: whole rows; every insert gives ``''`` and the triggers fill it.
    sort_address: Mapped[str | None] = mapped_column(String(320), default="")


class Address(Base):
    __tablename__ = "addresses"
    # The unique index, not a read-then-insert check, decides duplicate registrations.
    __table_args__ = (UniqueConstraint("pool_id", "kind", "value", name="uq_address_pool_value"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    kind: Mapped[str] = mapped_column(String(8))  # email | phone
    #: Normalised: email per email-validator, phone in E.164.
    value: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))  # unverified | verified
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Credential(Base):
    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="password")
    #: Self-describing argon2id string; parameters travel with the hash.
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Flow(Base):
    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # registration
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    parent_origin: Mapped[str | None] = mapped_column(String(255))
    #: The app the flow signs in to (embedded ``client_id`` or the authorization request).
    app_id: Mapped[str | None] = mapped_column(String(64))
    #: The validated authorization request of a redirect flow (redirect_uri, state, nonce,
    #: code_challenge, scope), replayed to the app when the flow ends.
    oauth: Mapped[dict[str, Any]] = mapped_column(default=dict)
    user_id: Mapped[str | None] = mapped_column(String(36))
    #: Where the code went, shown (masked) on the code step; same for new and known addresses.
    address: Mapped[str | None] = mapped_column(String(320))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


M = TypeVar("M", bound=Base)


def transient(model: type[M], **values: Any) -> M:
    """An instance that was never stored and belongs to no session (an unsaved flow, built
    on every form GET and POST). Never add it to a session; store rows with Core.

    Plain ``model(**values)``. It used to skip the per-attribute events by building the
    instance through SQLAlchemy's instrumentation (``manager_of_class(...).new_instance()``
    and writing ``__dict__``), internals the next release may change, for ~16-26 us less
    a flow (2-7 against 18-33 us, this host): ~0.1 % of a registration's server CPU."""
    return model(**values)


class Code(Base):
    __tablename__ = "codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow_id: Mapped[str] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    #: NULL when the address already belonged to someone: the code step looks the same,
    #: but no code can succeed.
    user_id: Mapped[str | None] = mapped_column(String(36))
    purpose: Mapped[str] = mapped_column(String(16))  # activation
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_recipient_created", "recipient", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class PasswordHistory(Base):
    """Earlier password hashes of a user, for a pool policy's ``history`` (no reuse of the
    last N). Deleted with the user's personal data."""

    __tablename__ = "password_history"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class Session(Base):
    """An end user's login session. The token is 128+ random bits; only its keyed hash is
    stored, so a database dump cannot be replayed as a cookie."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id"))
    app_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    #: How the user proved who they are: ["pwd"], ["pwd", "otp"], ["pwd", "totp"] (OIDC amr).
    amr: Mapped[list[str]] = mapped_column(default=list)


class AdminPrincipal(Base):
    """Someone or something that administers: a person (email + argon2 password, signs in to
    the portal) or an API key (only a keyed hash of its secret is stored). ``pool_id`` is
    a pool role's one pool; a developer's pools are in ``admin_principal_pools``, its
    ``pool_id`` NULL. ``pool_id`` and ``workspace_id`` NULL: the whole tenant, except for a
    developer (never tenant-wide: no rows there, no pools)."""

    __tablename__ = "admin_principals"
    __table_args__ = (UniqueConstraint("tenant_id", "email", name="uq_admin_tenant_email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("pools.id"))
    kind: Mapped[str] = mapped_column(String(16))  # person | api_key
    #: tenant_admin | brand_designer | pool_admin | pool_viewer | developer
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: A brand designer scoped to one workspace (pool_id and workspace_id NULL: the tenant).
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"))


class AdminPrincipalPool(Base):
    """One pool of a developer scoped to pools (``admin/access.py``: ``pool_scope``). A
    deleted pool or principal takes its rows with it."""

    __tablename__ = "admin_principal_pools"

    principal_id: Mapped[str] = mapped_column(
        ForeignKey("admin_principals.id", ondelete="CASCADE"), primary_key=True
    )
    pool_id: Mapped[str] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class AdminSession(Base):
    """A person's portal session: a first-party, ``SameSite=Strict`` cookie whose keyed hash
    is the primary key."""

    __tablename__ = "admin_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        ForeignKey("admin_principals.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditEvent(Base):
    """Who did what to which object, when, from where. Kept when the user is deleted: it
    names the user by id only, never by address or payload."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_pool_created", "pool_id", "created_at"),
        Index("ix_audit_tenant_created", "tenant_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    pool_id: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))  # ok | denied | failed
    ip: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class App(Base):
    """A partner application that uses pools as identity sources (an OAuth 2.0 / OIDC
    client). ``id`` is the client id. Confidential apps have a secret (only its keyed hash
    is stored); public apps (browser-only) must use PKCE."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # confidential | public
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    #: Exact origins that may embed the widget for this app and receive its messages.
    allowed_origins: Mapped[list[str]] = mapped_column(default=list)
    #: Exact redirect URIs (no prefixes, no wildcards).
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    #: Pools whose users may sign in to this app.
    pool_ids: Mapped[list[str]] = mapped_column(default=list)
    #: Scopes the app may ask for (openid is implied).
    scopes: Mapped[list[str]] = mapped_column(default=list)
    theme: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: The workspace the app is grouped under, if any (its theme layer still comes from
    #: the workspace of the pool a user signs in to).
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"))
    #: After a rotation with a grace period, the old secret's keyed hash, accepted at the
    #: token endpoint until ``previous_secret_until`` (``admin/app_secrets.py``).
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))
    previous_secret_until: Mapped[datetime | None]
    #: What a registration through the app offers when done; overrides the pool's.
    after_registration: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuthorizationCode(Base):
    """A one-time OAuth 2.0 authorization code (60 s). Only its keyed hash is the key;
    ``used_at`` is set by a conditional UPDATE, so a concurrent double exchange yields one
    token."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pool_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(36))
    #: NULL for codes posted to an embedding page (no redirect happened).
    redirect_uri: Mapped[str | None] = mapped_column(String(2048))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    scope: Mapped[str] = mapped_column(String(500))
    nonce: Mapped[str | None] = mapped_column(String(255))
    amr: Mapped[list[str]] = mapped_column(default=list)
    auth_time: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    #: Set when the used code is presented again (RFC 6749 §4.1.2): the tokens issued
    #: from it (their ``grant`` claim names the code) are refused from then on.
    revoked_at: Mapped[datetime | None]


class Consent(Base):
    """The scopes a user granted an app; the consent page shows only what is new."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("user_id", "app_id", name="uq_consent_user_app"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    granted_at: Mapped[datetime]


class SigningKey(Base):
    """An asymmetric key that signs ID tokens. The private key is stored encrypted with a
    key derived from the server secret; the public JWK is served at /.well-known/jwks.json
    (retired keys stay published until tokens signed with them have expired)."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]


class MfaFactor(Base):
    """A second factor of a user: a TOTP secret (encrypted like signing keys), or a
    preference for codes by email/SMS. ``last_step`` refuses a TOTP code used twice."""

    __tablename__ = "mfa_factors"
    __table_args__ = (UniqueConstraint("user_id", "kind", name="uq_mfa_user_kind"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # totp | email | sms
    secret: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


# --- Brand studio (widget_server/branding) ---------------------------------------------


class ThemeRecord(Base):
    """A custom theme: a working draft and a pointer to the published version that is live
    wherever the theme is assigned. Scoped to the tenant, one workspace or one pool (a
    pool's own administrators brand their pool with a pool-scoped theme)."""

    __tablename__ = "themes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"))
    pool_id: Mapped[str | None] = mapped_column(ForeignKey("pools.id"))
    name: Mapped[str] = mapped_column(String(100))
    #: The built-in theme it was copied from (for display; the tokens are its own).
    base: Mapped[str] = mapped_column(String(64))
    #: Token layer being edited; never live until published.
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Bumped on every saved edit: a save that names an older revision is refused.
    draft_revision: Mapped[int] = mapped_column(Integer, default=1)
    draft_updated_at: Mapped[datetime]
    draft_updated_by: Mapped[str] = mapped_column(String(200))
    #: ``ThemeVersion.number`` that is live; NULL until the first publish.
    published_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


class ThemeVersion(Base):
    """One publication of a theme: the tokens as they went live, by whom and when. Never
    changed; a rollback publishes a copy of an earlier one as a new version."""

    __tablename__ = "theme_versions"
    __table_args__ = (UniqueConstraint("theme_id", "number", name="uq_theme_version_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    theme_id: Mapped[str] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[dict[str, Any]]
    published_at: Mapped[datetime]
    published_by: Mapped[str | None] = mapped_column(String(36))
    published_by_name: Mapped[str] = mapped_column(String(200))
    #: The version this one republished (a rollback), else NULL.
    restored_from: Mapped[int | None] = mapped_column(Integer)
    #: Contrast pairs below WCAG AA that the publisher explicitly accepted.
    contrast_failures: Mapped[list[str]] = mapped_column(default=list)


class ThemeAssignment(Base):
    """Which theme is the layer of a tenant, workspace, pool or app. One row per target;
    no row: the level adds nothing of its own (beyond the inline ``theme`` tokens)."""

    __tablename__ = "theme_assignments"
    __table_args__ = (PrimaryKeyConstraint("level", "target_id"),)

    level: Mapped[str] = mapped_column(String(16))  # tenant | workspace | pool | app
    target_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    theme_id: Mapped[str] = mapped_column(ForeignKey("themes.id"), index=True)
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[str] = mapped_column(String(200))


class BrandAsset(Base):
    """An uploaded logo, background, favicon or font, checked by content and addressed by
    its SHA-256. Themes name assets by that hash; the same bytes uploaded by two tenants
    are two rows (each tenant decides when its own is deleted)."""

    __tablename__ = "brand_assets"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "sha256"),
        Index("ix_brand_assets_sha256", "sha256"),
    )

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # image | font
    media_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class WebhookEndpoint(Base):
    """Where a partner receives signed events (Standard Webhooks): for one pool, or for one
    app (the pools it accepts). Signing secrets are stored sealed (``crypto.seal``, see
    ``webhooks.signing``); during a rotation's grace period the previous secret signs
    too."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    #: Exactly one of pool_id and app_id is set.
    pool_id: Mapped[str | None] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), index=True
    )
    app_id: Mapped[str | None] = mapped_column(
        ForeignKey("apps.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    #: Event types delivered here; empty means every type.
    event_types: Mapped[list[str]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    #: The previous secret signs too until then (the rotation's grace period).
    previous_secret_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookEvent(Base):
    """One event, written in the transaction of the change it reports (the outbox of
    webhooks); the delivery worker fans it out to the endpoints that want it. ``id`` is
    the order events are delivered in, per endpoint and user."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_pending", "fanned_out", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The ``webhook-id`` header: the same on every attempt and resend of this event.
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    pool_id: Mapped[str | None] = mapped_column(String(64))
    #: The app of a login or of the flow a registration came through.
    app_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    #: Events of one user reach an endpoint in ``id`` order; NULL: no order needed.
    user_id: Mapped[str | None] = mapped_column(String(36))
    data: Mapped[dict[str, Any]]
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event on its way to one endpoint: retried with backoff until the endpoint
    answers 2xx or the schedule (over 24 hours) runs out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint_id", "user_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    #: Copied from the event: the ordering key (``ix_webhook_deliveries_order``).
    user_id: Mapped[str | None] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    #: "event", "resend" or "test".
    trigger: Mapped[str] = mapped_column(String(16), default="event")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP request of a delivery, for the endpoint's delivery log. Excerpts are cut
    to a bounded size, and finished deliveries are purged after a retention period."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(String(36))
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    duration_ms: Mapped[int] = mapped_column(Integer)
    #: None when no answer came (refused address, connection error, timeout).
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))
    request_excerpt: Mapped[str] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)


class FunnelCount(Base):
    """The sign-up funnel (``observe/funnel.py``): how many times ``counter`` happened at
    ``step`` of ``pool_id``'s registration, embedded by ``site``, on ``day`` (UTC).
    Aggregates only: no user, flow, address or IP, so nothing here is personal data."""

    __tablename__ = "funnel_counts"
    __table_args__ = (
        PrimaryKeyConstraint("pool_id", "day", "site", "step", "counter", name="pk_funnel_counts"),
    )

    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"))
    #: The embedding page's origin (``https://shop.example``), one of the pool's allowed
    #: origins; "" when the form was opened directly or the origin was not allowed.
    site: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date)
    #: ``view``, a schema step id, ``code`` (the code step) or ``activated``.
    step: Mapped[str] = mapped_column(String(64))
    #: ``reached``, or ``error:<message id>`` for a refused submission of the step.
    counter: Mapped[str] = mapped_column(String(96))
    count: Mapped[int] = mapped_column(BigInteger)
class Job(Base):
    """A background job on a pool's users: an export, an import (its dry run too) or a
    bulk action. Any server process's ``JobWorker`` may run it: it claims the job with a
    lease (``lease_until``, renewed at every batch), and a job whose process died is
    taken over once the lease has run out, from ``cursor``, the point the last committed
    batch reached. ``exclusive`` jobs change users (imports, bulk actions): at most one of
    them per pool is queued or running (``uq_jobs_one_changing_per_pool``), so two never
    interleave."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_pool_created", "pool_id", "created_at"),
        Index("ix_jobs_status_lease", "status", "lease_until"),
        Index(
            "uq_jobs_one_changing_per_pool",
            "pool_id",
            unique=True,
            sqlite_where=text("exclusive AND status IN ('queued', 'running')"),
            postgresql_where=text("exclusive AND status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    pool_id: Mapped[str] = mapped_column(ForeignKey("pools.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # export | import | bulk
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The admin principal who asked; only they may download an export.
    requested_by: Mapped[str] = mapped_column(String(36))
    requested_by_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | failed | cancelled
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Counters and, for an export, the file's name (under ``Settings.jobs_dir``).
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Where the last committed batch stopped (a user id, a line and byte offset).
    cursor: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Message id of why it failed.
    error: Mapped[str | None] = mapped_column(String(64))
    lease_owner: Mapped[str | None] = mapped_column(String(36))
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: An export is downloaded once: set when the download starts, the file then goes.
    downloaded_at: Mapped[datetime | None]


#: Exports and "all matching" bulk actions walk a pool's users in id order, a batch at a
#: time (keyset): without this index each batch of a million-user pool would sort them.
Index("ix_users_pool_id_id", User.pool_id, User.id)
class DeveloperInvitation(Base):
    """An invitation of a partner developer by email (``admin/developer_invitations.py``):
    scoped to one or more pools (``developer_invitation_pools``) or one workspace; the
    link's token is stored only as a keyed hash, used once, and expires."""

    __tablename__ = "developer_invitations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str | None] = mapped_column(String(36))
    invited_by_name: Mapped[str] = mapped_column(String(200))
    #: How many emails this invitation has sent (the first and each resend).
    sent_count: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: The developer the acceptance created.
    principal_id: Mapped[str | None] = mapped_column(String(36))


class DeveloperInvitationPool(Base):
    """One pool an invitation names; a deleted pool leaves the invitation's other pools
    (an invitation left with none and no workspace no longer opens)."""

    __tablename__ = "developer_invitation_pools"

    invitation_id: Mapped[str] = mapped_column(
        ForeignKey("developer_invitations.id", ondelete="CASCADE"), primary_key=True
    )
    pool_id: Mapped[str] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class EmbedRefusal(Base):
    """An origin that tried to frame a pool's widget and was refused: a count and when it
    was first and last seen (``developers/embed_log.py``). No personal data: the origin is
    a site, not a person."""

    __tablename__ = "embed_refusals"

    pool_id: Mapped[str] = mapped_column(
        ForeignKey("pools.id", ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
