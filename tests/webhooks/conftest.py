"""Webhook test fixtures: a real HTTP receiver (uvicorn on 127.0.0.1, answering per path
as the test says), and a delivery worker the test drives round by round.

Signatures are checked with ``standardwebhooks``, the reference library partners use,
never with our own signer.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
import pytest
import uvicorn
from jsonschema import Draft202012Validator
from sqlalchemy import select
from standardwebhooks import Webhook

from tests.admin.keys import AdminClient
from tests.conftest import Harness
from widget_server.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from widget_server.settings import Settings
from widget_server.webhooks import manage
from widget_server.webhooks.events import event_schemas
from widget_server.webhooks.urls import Resolver
from widget_server.webhooks.worker import WebhookWorker

HANG = -1  # an answer: accept the request and never respond (until the test ends)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body)

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    def verify(self, secret: str) -> Any:
        """The payload, if the signature verifies with ``secret`` (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Receiver:
    """A partner's webhook receiver. ``answers[path]`` is a status code, ``HANG``, or
    ``(status, headers)``; unknown paths answer 200."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, path: str, count: int = 1, seconds: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + seconds
        while len(self.at(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{path}: {len(self.at(path))} of {count} requests arrived")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.05)
        return self.at(path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Request(scope["path"], headers, body, time.monotonic()))
        self.arrived.set()
        answer = self.answers.get(scope["path"], 200)
        if answer == HANG:
            await self.release.wait()
            return
        status, extra = answer if isinstance(answer, tuple) else (answer, {})
        raw = [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"thanks " * 400})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = Receiver(port=sock.getsockname()[1])
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", timeout_graceful_shutdown=1, access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield app
    app.release.set()
    server.should_exit = True
    await task
    sock.close()


class StaticResolver:
    """Names the test chooses, resolved to the addresses it chooses."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return self.names[host]


@dataclass
class Hooks:
    """The webhook side of one harness: endpoints made by a tenant admin, and workers the
    test drives (``drain``) instead of the app's background one."""

    h: Harness
    operator: AdminClient
    workers: list[WebhookWorker] = field(default_factory=list)

    @property
    def services(self) -> Any:
        return self.h.web.services

    def worker(self, resolver: Resolver | None = None, **settings: Any) -> WebhookWorker:
        """A new worker on the harness's database (another process, or after a restart)."""
        chosen: Settings = replace(self.h.settings, **settings)
        made = WebhookWorker(self.services.db, self.h.clock, chosen, resolver=resolver)
        self.workers.append(made)
        return made

    async def drain(self) -> None:
        if not self.workers:
            self.worker()
        await self.workers[0].drain()

    async def endpoint(self, url: str, **fields: Any) -> manage.EndpointSecret:
        fields.setdefault("pool_id", None if "app_id" in fields else "partner-1")
        new = manage.NewEndpoint(url=url, **fields)
        return await manage.create_endpoint(self.services, self.operator.actor, new)

    async def events(self, event_type: str | None = None) -> list[WebhookEvent]:
        query = select(WebhookEvent).order_by(WebhookEvent.id)
        if event_type is not None:
            query = query.where(WebhookEvent.type == event_type)
        async with self.services.db.read() as session:
            return list((await session.execute(query)).scalars())

    async def deliveries(self) -> list[WebhookDelivery]:
        async with self.services.db.read() as session:
            query = select(WebhookDelivery).order_by(WebhookDelivery.id)
            return list((await session.execute(query)).scalars())

    async def attempts(self) -> list[WebhookAttempt]:
        async with self.services.db.read() as session:
            query = select(WebhookAttempt).order_by(WebhookAttempt.id)
            return list((await session.execute(query)).scalars())


@pytest.fixture
async def hooks(harness: Harness, operator: AdminClient) -> AsyncIterator[Hooks]:
    """The app's own worker is stopped: the test decides when deliveries happen."""
    await harness.app.state.webhooks.stop()
    made = Hooks(harness, operator)
    yield made
    for worker in made.workers:
        await worker.stop(timeout=0.5)


_SCHEMAS = {name: Draft202012Validator(schema) for name, schema in event_schemas().items()}


def valid_body(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` after checking it against the published schema of its type."""
    _SCHEMAS[payload["type"]].validate(payload)
    return payload
