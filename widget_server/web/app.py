"""``create_app(settings)``: the whole service, wired once, nothing read from globals."""

from __future__ import annotations

import os
from datetime import timedelta

from litestar import Litestar
from litestar.datastructures import State
from litestar.types import ASGIApp

from widget_server import migrate
from widget_server.admin.portal_auth import PORTAL_LIMITS
from widget_server.admin.schemas import warn_unrunnable
from widget_server.admin.templates import ensure_builtin_schemas
from widget_server.assets import asset_dir
from widget_server.auth.throttle import LoginThrottle, make_store
from widget_server.branding.sandbox import Sandboxes
from widget_server.changes import make_feed
from widget_server.clock import Clock, SystemClock
from widget_server.db import Database
from widget_server.developers.embed_log import EmbedLog
from widget_server.errors import MalformedInput
from widget_server.forwarded import TrustedProxies
from widget_server.installation import ensure_key_fingerprint
from widget_server.jobs.worker import JobWorker
from widget_server.mail.compose import Composer
from widget_server.mail.outbox import OutboxWorker
from widget_server.mail.senders import Sender, SmtpSender
from widget_server.observe.metrics import multiprocess_dir
from widget_server.observe.telemetry import Telemetry
from widget_server.oidc.keys import KeyRing
from widget_server.passwords.hashing import Argon2Hasher, HashingPool, PasswordHasher
from widget_server.passwords.imported import AcceptingImported
from widget_server.passwords.policy import load_common_passwords
from widget_server.pools import PoolDirectory
from widget_server.services import Services
from widget_server.settings import Settings
from widget_server.sms import SmsProvider, provider_from_settings
from widget_server.web import (
    account,
    api,
    assets,
    dev,
    developers,
    oauth,
    ops,
    portal,
    studio,
    widget,
)
from widget_server.web.api.openapi import openapi_config
from widget_server.web.shared.context import WebContext
from widget_server.web.shared.pages import unreadable
from widget_server.web.shared.proxy import ForwardedClientMiddleware
from widget_server.web.shared.render import Renderer, make_environment
from widget_server.web.shared.security import SecurityHeadersMiddleware
from widget_server.web.shared.static import StaticFiles
from widget_server.web.shared.telemetry import RequestTelemetry
from widget_server.web.tryit import SandboxDispatch
from widget_server.webhooks.worker import WebhookWorker


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    sender: Sender | None = None,
    sms: SmsProvider | None = None,
    hasher: PasswordHasher | None = None,
    migrate_on_start: bool = True,
) -> Litestar:
    if not settings.secret_key:
        raise ValueError("settings.secret_key is empty; set WIDGET_SECRET_KEY")
    # Read before anything is built: a mistyped network stops the server here, by name.
    proxies = TrustedProxies.from_settings(settings.trusted_proxies, settings.proxy_header)
    clock = clock or SystemClock()
    db = Database(settings.database_url)
    # Pool and signing-key changes told to every other process (changes.py).
    feed = make_feed(db)
    # Metrics and funnel counts; several processes write their metrics to one directory.
    telemetry = Telemetry.build(db, clock, multiprocess_dir())
    static = StaticFiles(asset_dir("static"))
    env = make_environment(static)
    worker = OutboxWorker(
        db,
        sender or _smtp(settings),
        clock,
        settings.outbox_poll_seconds,
        sms=sms or provider_from_settings(settings),
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        metrics=telemetry.metrics,
    )
    webhooks = WebhookWorker(db, clock, settings, metrics=telemetry.metrics)
    # Refused frame origins, counted in memory and written every few seconds.
    embed_log = EmbedLog()
    services = Services(
        settings=settings,
        db=db,
        clock=clock,
        hashing=HashingPool(
            # Imported users' bcrypt, scrypt or PBKDF2 hashes verify at their first login
            # and are then replaced by ours (passwords/imported.py).
            AcceptingImported(
                hasher or Argon2Hasher(settings.argon2_time_cost, settings.argon2_memory_kib)
            ),
            slots=settings.effective_hash_slots,
            max_wait_seconds=settings.hash_max_wait_seconds,
            refuse_every=settings.hash_refuse_every,
            observer=telemetry.metrics,
        ),
        pools=PoolDirectory(db, feed),
        composer=Composer(env, settings.public_url),
        telemetry=telemetry,
        notify_outbox=worker.wake,
        notify_webhooks=webhooks.wake,
        # Bound late: the job worker needs the services it is part of.
        notify_jobs=lambda: jobs.wake(),
        changes=feed,
    )
    jobs = JobWorker(services)

    # One login throttle, configured for end users and for the portal: counters in this
    # process, or in Redis shared by every process (redis_url), one store for both.
    now = lambda: clock.now().timestamp()  # noqa: E731
    store = make_store(settings.redis_url)
    login_throttle = LoginThrottle(store, settings.secret_key, now=now)
    portal_throttle = LoginThrottle(store, settings.secret_key, PORTAL_LIMITS, now=now)
    # The studio's "try it" sandboxes of this process (branding/sandbox.py).
    sandboxes = Sandboxes()
    renderer = Renderer(env)

    async def startup() -> None:
        if migrate_on_start:
            await migrate.upgrade(db)
        await ensure_key_fingerprint(db, settings.secret_key, now=clock.now())
        async with db.write() as session:
            await ensure_builtin_schemas(session, clock.now())
        async with db.read() as session:
            await warn_unrunnable(session)
        load_common_passwords()  # the first registration should not pay for it
        await feed.start()
        # Admission goes by this machine's measured hash time; take it before the first
        # burst can arrive (two hashes, ~40 ms at the defaults).
        await services.hashing.calibrate()
        worker.start()
        webhooks.start()
        telemetry.funnel.start()
        jobs.start()

    async def shutdown() -> None:
        await sandboxes.close_all()
        await jobs.stop()
        await telemetry.funnel.stop()
        await embed_log.flush(db, clock.now())
        await webhooks.stop()
        await worker.stop()
        await feed.close()
        services.hashing.close()
        await db.dispose()
        telemetry.metrics.process_exited(os.getpid())

    app = Litestar(
        # One router per audience (web/README.md has the map).
        route_handlers=[
            widget.router(),
            account.router(),
            oauth.router(),
            portal.router(),
            studio.router(),
            developers.router(),
            api.router(),
            dev.router(),
            ops.router(),
            assets.router(),
        ],
        state=State(
            {
                "web": WebContext(services, renderer),
                "static_files": static,
                "outbox": worker,
                "webhooks": webhooks,
                "jobs": jobs,
                "admin_login_throttle": portal_throttle,
                "oidc_keys": KeyRing(services, feed),
                "login_throttle": login_throttle,
                "embed_log": embed_log,
                "sandboxes": sandboxes,
            }
        ),
        # A posted field that is not UTF-8, on any surface (web/shared/request_io.py).
        exception_handlers={MalformedInput: unreadable},
        on_startup=[startup],
        on_shutdown=[shutdown, login_throttle.close],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
    )
    # Around the whole handler, router included, so unmatched paths (404, 405) are timed
    # and get the security headers too (Litestar's own middleware runs only for a route
    # that matched); inside it, /embed/try_… goes to a studio sandbox's widget, on its own
    # services (web/tryit.py).
    handler: ASGIApp = SecurityHeadersMiddleware(
        SandboxDispatch(app.asgi_handler, sandboxes, services, renderer)
    )
    if proxies:
        # Behind trusted balancers only: the client's address and scheme from their header,
        # read before the headers are chosen (HSTS goes by the scheme).
        handler = ForwardedClientMiddleware(handler, proxies=proxies)
    app.asgi_handler = RequestTelemetry(handler, telemetry.metrics, proxies)
    return app


def _smtp(settings: Settings) -> SmtpSender:
    return SmtpSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        mail_from=settings.mail_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )
