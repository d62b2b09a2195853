"""A reference receiver for the SMS webhook: a tiny ASGI app that checks the signature
and keeps what it received. End-to-end tests run it as the "SMS gateway"; an operator
can read it as the shape of their adapter (check the signature over the raw body,
answer 2xx only once the text is safely handed on, drop duplicate ids).

``ReceiverServer`` runs it with uvicorn on a loopback port in a thread of its own, so
sync (browser) and async tests can use it alike.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec
import uvicorn

from widget_server.sms.webhook import SIGNATURE_HEADER, sign

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class ReceivedSms(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    to: str
    body: str
    sender: str | None = msgspec.field(default=None, name="from")


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)


class SmsReceiver:
    """The ASGI app. ``answers``: statuses to give the next requests (then 200)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self.received: list[ReceivedSms] = []
        self.refused_signatures = 0
        self.requests = 0
        self.answers: list[int] = []
        #: Seconds to wait before answering (a slow gateway).
        self.delay = 0.0
        self._ids: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self._handle(scope, body)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _handle(self, scope: Scope, body: bytes) -> int:
        self.requests += 1
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["method"] != "POST":
            return 405
        if not verify(self._secret, body, headers.get(SIGNATURE_HEADER.lower())):
            self.refused_signatures += 1
            return 401
        if self.answers:
            return self.answers.pop(0)
        text = msgspec.json.decode(body, type=ReceivedSms)
        if text.id not in self._ids:  # a retry of a text already taken
            self._ids.add(text.id)
            self.received.append(text)
        return 200

    def to(self, phone: str) -> list[ReceivedSms]:
        return [t for t in self.received if t.to == phone]


class ReceiverServer:
    """``SmsReceiver`` served on ``http://127.0.0.1:<port>/sms``; start, stop, start again
    (an outage in between) on the same port."""

    def __init__(self, receiver: SmsReceiver, port: int) -> None:
        self.receiver, self.port = receiver, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    def start(self, timeout: float = 10.0) -> None:
        config = uvicorn.Config(
            self.receiver, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"SMS receiver did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
