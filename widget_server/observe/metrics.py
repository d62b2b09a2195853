"""Prometheus metrics of one server process, and how ``/metrics`` reads them.

Every metric lives in a registry of its own per app (``Metrics``), so two apps in one
process (the tests) do not share counters. Label values are bounded: pools are the
tenant's configured pools, steps the pool schema's step ids, routes the route
*templates* (``/embed/{pool_id}/register``, never the raw path), statuses their class
(``2xx``…), and a path no route matches counts as ``unmatched``.

Several processes (``serve --workers N``): prometheus-client's multiprocess mode. The
library chooses it when the process starts, from ``PROMETHEUS_MULTIPROC_DIR`` (its own
variable, read when it is imported); ``serving.serve_workers`` points it at a new empty
directory per run before the workers start, and each worker writes its values to its
own files there. A scrape, answered by any one worker, then adds up every worker's
files (``MultiProcessCollector``), so the figures are the server's, not one process's.
Gauges say how they combine: the hash queue is summed over live workers, the outbox
lag (a database figure) is the latest any worker measured.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.parser import text_string_to_metric_families

#: Request latency buckets, seconds: cheap pages answer in milliseconds, a registration
#: POST waits for its hash (tens of ms to the admission bound of ~10 s).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Seconds a hash waited in the queue for a thread.
WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: The route label of a request no route matched (a 404 or 405 from the router).
UNMATCHED = "unmatched"
_STATUS_CLASS = {n: f"{n}xx" for n in range(1, 6)}


def multiprocess_dir() -> str | None:
    """The directory prometheus-client writes this process's values to, if it runs in
    multiprocess mode (see the module docstring); read when the app is built."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The service's metrics; methods are named by what happened, so callers need not
    know Prometheus. Safe from any thread (prometheus-client locks its values)."""

    def __init__(self, multiproc_dir: str | None = None) -> None:
        self.multiproc_dir = multiproc_dir
        # Labelled children by label values: ``labels()`` costs ~1.3 us a call (it
        # validates and locks), a dictionary hit ~0.1 us, on every request. Bounded by
        # the label values, which are bounded (module docstring).
        self._children: dict[tuple[object, ...], Any] = {}
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._started = Counter(
            "widget_registrations_started", "Registration forms served to a new visitor",
            ["pool"], registry=r,
        )  # fmt: skip
        self._steps = Counter(
            "widget_registration_steps",
            "Registration steps submitted, by result (ok, invalid, refused)",
            ["pool", "step", "result"],
            registry=r,
        )
        self._completed = Counter(
            "widget_registrations_completed", "Registrations stored and sent their code",
            ["pool"], registry=r,
        )  # fmt: skip
        self._activated = Counter(
            "widget_registrations_activated", "Registrations activated with their code",
            ["pool"], registry=r,
        )  # fmt: skip
        self._codes_sent = Counter(
            "widget_codes_sent", "One-time codes issued, by purpose", ["purpose"], registry=r
        )
        self._codes_checked = Counter(
            "widget_codes_checked",
            "One-time codes checked, by purpose and result (verified, failed)",
            ["purpose", "result"],
            registry=r,
        )
        self._logins = Counter(
            "widget_logins", "Password logins, by result (ok, failed, throttled, refused)",
            ["pool", "result"], registry=r,
        )  # fmt: skip
        self._hash_depth = Gauge(
            "widget_hash_queue_depth",
            "Hashes queued, running and admitted (summed over live processes)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._hash_wait = Histogram(
            "widget_hash_wait_seconds", "Seconds a hash waited for a thread",
            registry=r, buckets=WAIT_BUCKETS,
        )  # fmt: skip
        self._hash_refusals = Counter(
            "widget_hash_refusals", "Requests refused by the hashing admission (503)", registry=r
        )
        self._outbox_sent = Counter(
            "widget_outbox_sent", "Outbox messages delivered", ["channel"], registry=r
        )
        self._outbox_failures = Counter(
            "widget_outbox_failures",
            "Outbox delivery attempts that failed (final: no attempt left)",
            ["channel", "final"],
            registry=r,
        )
        self._outbox_lag = Gauge(
            "widget_outbox_lag_seconds",
            "Age of the oldest pending outbox message (0: none), measured at the last scrape",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self._outbox_pending = Gauge(
            "widget_outbox_pending", "Pending outbox messages, at the last scrape",
            registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self._webhooks = Counter(
            "widget_webhook_deliveries",
            "Webhook delivery attempts, by result (ok, failed)",
            ["result"],
            registry=r,
        )
        self._latency = Histogram(
            "widget_http_request_duration_seconds",
            "Request latency by route template, method and status class",
            ["route", "method", "status"],
            registry=r,
            buckets=LATENCY_BUCKETS,
        )

    # --- registration and codes ---------------------------------------------------------

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def registration_started(self, pool: str) -> None:
        self._child(self._started, pool).inc()

    def registration_step(self, pool: str, step: str, result: str) -> None:
        self._child(self._steps, pool, step, result).inc()

    def registration_completed(self, pool: str) -> None:
        self._child(self._completed, pool).inc()

    def registration_activated(self, pool: str) -> None:
        self._child(self._activated, pool).inc()

    def code_sent(self, purpose: str) -> None:
        self._child(self._codes_sent, purpose).inc()

    def code_checked(self, purpose: str, ok: bool) -> None:
        self._child(self._codes_checked, purpose, "verified" if ok else "failed").inc()

    def login(self, pool: str, result: str) -> None:
        self._child(self._logins, pool, result).inc()

    # --- the hashing pool (passwords/hashing.HashObserver) ------------------------------

    def depth(self, hashes: int) -> None:
        self._hash_depth.set(hashes)

    def refused(self) -> None:
        self._hash_refusals.inc()

    def waited(self, seconds: float) -> None:
        self._hash_wait.observe(seconds)

    # --- outbox and webhooks ------------------------------------------------------------

    def outbox_sent(self, channel: str, count: int = 1) -> None:
        if count:
            self._child(self._outbox_sent, channel).inc(count)

    def outbox_failed(self, channel: str, final: bool) -> None:
        self._child(self._outbox_failures, channel, "true" if final else "false").inc()

    def outbox_backlog(self, pending: int, lag_seconds: float) -> None:
        self._outbox_pending.set(pending)
        self._outbox_lag.set(lag_seconds)

    def webhook_delivery(self, ok: bool) -> None:
        self._child(self._webhooks, "ok" if ok else "failed").inc()

    # --- HTTP ---------------------------------------------------------------------------

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._child(
            self._latency, route, method, _STATUS_CLASS.get(status // 100, "other")
        ).observe(seconds)

    # --- exposition ---------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format of every process's values (multiprocess) or this one's."""
        if self.multiproc_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.multiproc_dir)  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def process_exited(self, pid: int) -> None:
        """Drop a stopped process's live gauges (its counters keep counting)."""
        if self.multiproc_dir is not None:
            multiprocess.mark_process_dead(pid, self.multiproc_dir)  # type: ignore[no-untyped-call]


def sample(exposition: bytes, name: str, labels: Iterable[tuple[str, str]] = ()) -> float:
    """The value of one sample in an exposition (0 when absent): for tests and the CLI."""
    wanted = dict(labels)
    for family in text_string_to_metric_families(exposition.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in wanted.items()):
                return float(s.value)
    return 0.0
