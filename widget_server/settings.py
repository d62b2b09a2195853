"""The one configuration object, built once from the environment and passed to ``create_app``.

Per-pool configuration (schemas, policies, origins, themes) is data in the database, not here.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

_PREFIX = "WIDGET_"


@dataclass(frozen=True, kw_only=True)
class Settings:
    #: SQLAlchemy URL. SQLite (``sqlite+aiosqlite:///path``) embedded by default;
    #: ``postgresql+asyncpg://user@host/db`` for production.
    database_url: str = "sqlite+aiosqlite:///.data/widget.db"
    #: Key for HMACs over codes, CSRF tokens and API keys, and for encrypted seeds and signing
    #: keys. The database records its fingerprint; the server and the CLI refuse to run under
    #: another key, which could read none of it (``widget_server/installation.py``).
    secret_key: str = field(default="", repr=False)
    #: Where browsers reach this server; used in emails and snippets.
    public_url: str = "http://localhost:8000"
    #: Outgoing mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    mail_from: str = "Widget Server <no-reply@localhost>"
    #: Seconds between outbox polls; messages written in a request are also sent right away.
    outbox_poll_seconds: float = 2.0
    #: How long a process owns the messages it took to send. A process that dies holding
    #: them (a crash, SIGKILL) delays them this long; then any process sends them. A
    #: round of 50 messages over one SMTP connection must fit in it, or a message may go
    #: out twice.
    outbox_lease_seconds: float = 60.0
    #: argon2id parameters (OWASP minimum is m=19 MiB, t=2, p=1).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    #: Threads that hash at once in this process (0: one per core this process may use;
    #: ``widget-server serve --workers N`` gives each process cores / N, at least 1, so N
    #: processes never hash on more threads than there are cores).
    hash_slots: int = 0
    #: The longest expected wait for a hash the server admits, in seconds. The wait is
    #: measured, not guessed: the hashes ahead (queued, running and admitted) times the
    #: seconds per hash this machine takes now. A request past it is refused before any
    #: work with 503 and ``Retry-After`` = its real place in line, and the widget keeps
    #: what was typed and tries again by itself then (``passwords/admission.py``). Lower
    #: it for snappier refusals; raise it to hold more people (each costs one open
    #: connection and a few kilobytes while it waits).
    hash_max_wait_seconds: float = 10.0
    #: Tests only: refuse every Nth hashing admission, starting with the first (2: the
    #: first, third, fifth, ...), whatever the queue, to show the widget waiting in line
    #: (e2e/test_busy.py). 0 (never) in any real deployment.
    hash_refuse_every: int = 0
    #: Lifetimes, in seconds.
    flow_ttl_seconds: int = 3600
    code_ttl_seconds: int = 600
    code_max_attempts: int = 5
    code_resend_cooldown_seconds: int = 60
    #: How long an admin's invitation (activation code + link) and a set-password link
    #: stay usable: a team member may not read their mail for a weekend.
    invitation_ttl_seconds: int = 72 * 3600
    #: At most this many emails to one address per hour, whatever the flow: registering
    #: must not become a way to flood someone's inbox. Further ones are dropped silently
    #: (the page looks the same, so nothing is revealed).
    mail_per_address_per_hour: int = 5
    #: Largest request body accepted, in bytes.
    max_body_bytes: int = 64 * 1024
    #: Admin portal sessions: signed out this many hours after signing in, whatever
    #: happens, and after this many minutes without a request.
    admin_session_hours: int = 8
    admin_session_idle_minutes: int = 60
    #: Redis for counters every server process shares (login throttling), e.g.
    #: ``redis://127.0.0.1:6379/0``; empty keeps them in this process (one process only:
    #: with several, each would count on its own). Masked: the URL may hold a password.
    redis_url: str = field(default="", repr=False)
    #: The load balancers and proxies in front of the server: comma-separated addresses or
    #: CIDR networks (e.g. ``10.0.0.0/8,fd00::/8``). Only a request whose TCP peer is one of
    #: them has its client address read from ``proxy_header``; from anyone else the header is
    #: ignored, since a client can write any address into it. Empty (the default): no proxy
    #: is trusted and the TCP peer is the client. Throttles and the audit log use the
    #: address, so behind a balancer this must be set (widget_server/forwarded.py).
    trusted_proxies: str = ""
    #: The header those proxies set: ``x-forwarded-for`` (HAProxy ``option forwardfor``,
    #: nginx, cloud balancers) or ``forwarded`` (RFC 7239). Only this one is read.
    proxy_header: str = "x-forwarded-for"
    #: Folder (Maildir) of the dev SMTP sink shown at /dev/mailbox; empty disables the page.
    dev_mailbox_dir: str = ""
    #: Where texts (SMS) go: "" (none: they wait in the outbox until one is set),
    #: "webhook" (signed JSON POSTed to ``sms_webhook_url``, see sms/webhook.py) or
    #: "devmailbox" (filed in ``dev_mailbox_dir``, shown at /dev/mailbox; the demo's).
    sms_provider: str = ""
    sms_webhook_url: str = ""
    #: Key of the HMAC-SHA256 signature the receiver checks. Masked.
    sms_webhook_secret: str = field(default="", repr=False)
    sms_webhook_timeout_seconds: float = 10.0
    #: Sender name or number passed to the webhook as ``from`` (empty: left out).
    sms_from: str = ""
    #: Partner webhooks (widget_server/webhooks): seconds a receiver has for one request
    #: (connecting, answering and the first KiB of its answer), requests in flight at once
    #: per endpoint in each process, and seconds between looks for new events.
    webhook_timeout_seconds: float = 10.0
    webhook_endpoint_concurrency: int = 4
    webhook_poll_seconds: float = 1.0
    #: Development and tests only: webhook endpoints may be ``http://localhost`` (or
    #: 127.0.0.1), and requests may go to private, loopback and link-local addresses.
    #: Keep it off in production: partners choose the URLs, and they must not reach the
    #: operator's own network through this server (SSRF). The demo turns it on.
    webhooks_allow_private: bool = False
    #: Bearer token a Prometheus scraper sends to ``GET /metrics``
    #: (``Authorization: Bearer <token>``). Empty (the default): ``/metrics`` answers 404,
    #: so metrics are never public by accident. Masked.
    metrics_token: str = field(default="", repr=False)
    #: Log lines as ``json`` (one object per line with a ``request_id``, for a log
    #: pipeline) or ``text`` (for a terminal). ``widget-server serve`` and ``demo`` apply it.
    log_format: str = "json"
    #: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``. At DEBUG every request is logged by
    #: its route template. SQL is never logged (its parameters are user data).
    log_level: str = "INFO"
    #: Background jobs on a pool's users (exports, imports, bulk actions; widget_server/jobs).
    #: The folder for export files and uploaded import files. Empty: ``jobs`` beside the
    #: SQLite database file, or ``.data/jobs``. With several machines it must be storage
    #: they share, since any process's worker may run a job and serve its download.
    jobs_dir: str = ""
    #: Seconds between looks for queued jobs (a job queued in this process starts at once).
    job_poll_seconds: float = 2.0
    #: How long a worker owns the job it runs without renewing (it renews at every batch);
    #: a process that dies leaves its job to the others after this long.
    job_lease_seconds: float = 60.0
    #: Largest import file accepted, in bytes (the upload is streamed to ``jobs_dir``).
    import_max_bytes: int = 200 * 1024 * 1024
    #: Imported ``new`` users' invitations leave the outbox at most this fast, so a large
    #: import does not flood the mail server (or the recipients' providers' limits).
    import_invitations_per_minute: int = 600

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``WIDGET_<FIELD>`` variables; unknown ``WIDGET_`` variables are an error."""
        env = os.environ if environ is None else environ
        known = {f.name: f for f in fields(cls)}
        values: dict[str, object] = {}
        for key, raw in env.items():
            if not key.startswith(_PREFIX):
                continue
            name = key[len(_PREFIX) :].lower()
            if name not in known:
                raise ValueError(f"unknown setting {key}")
            values[name] = _convert(raw, type(getattr(cls(), name)), key)
        return cls(**values)  # type: ignore[arg-type]

    def with_secret(self, data_dir: Path, *, create: bool = True) -> Settings:
        """Return settings with a secret key, generated once and kept in ``data_dir`` if unset.

        With ``create=False`` nothing is written: without a key file they come back keyless
        (a CLI command run in the wrong folder must not leave a new key there)."""
        if self.secret_key:
            return self
        path = data_dir / "secret.key"
        if not create:
            return replace(self, secret_key=path.read_text().strip()) if path.is_file() else self
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Created 0600 from the first byte, and exclusively: two processes starting
            # at once must not end up with different keys.
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(32))
        return replace(self, secret_key=path.read_text().strip())

    @property
    def effective_jobs_dir(self) -> Path:
        if self.jobs_dir:
            return Path(self.jobs_dir)
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix) and ":memory:" not in self.database_url:
            return Path(self.database_url[len(prefix) :]).parent / "jobs"
        return Path(".data/jobs")

    @property
    def effective_hash_slots(self) -> int:
        return self.hash_slots or cores()


def cores() -> int:
    """Cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _convert(raw: str, kind: type, key: str) -> object:
    try:
        if kind is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError as exc:
        raise ValueError(f"{key}: cannot read {raw!r} as {kind.__name__}") from exc
    return raw
