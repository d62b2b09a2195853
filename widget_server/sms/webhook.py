"""A generic HTTP webhook: each text is POSTed as JSON to a URL the operator runs — an
adapter in front of whichever SMS gateway they use.

The request::

    POST <sms_webhook_url>
    Content-Type: application/json
    X-Widget-Signature: sha256=<hex HMAC-SHA256 of the exact body, key: sms_webhook_secret>

    {"id": "<outbox id>", "to": "+4915123456789", "body": "123456 is your ...", "from": "..."}

``from`` is present when ``sms_from`` is set. Any 2xx answer means the receiver took the
text; anything else (3xx included: redirects are not followed, a moved endpoint must be
reconfigured, not guessed), a timeout or a refused connection fails it, and the outbox
tries again with backoff, so an outage of the receiver delays texts but loses none. A
retry carries the same ``id``: receivers drop duplicates by it (a text can be delivered
and its answer lost).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence

import httpx
import msgspec

from widget_server.sms.provider import SmsMessage

SIGNATURE_HEADER = "X-Widget-Signature"
#: Requests in flight at once per batch: enough to drain a burst, few enough not to
#: look like an attack to the receiver.
CONCURRENCY = 8


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Payload(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    to: str
    body: str
    # "from" is a keyword in Python; renamed on the wire.
    sender: str = msgspec.field(default="", name="from")


class WebhookSms:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        sender: str = "",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not url or not secret:
            raise ValueError("the SMS webhook needs a URL and a secret")
        self._url, self._secret, self._sender = url, secret, sender
        self._timeout = timeout
        self._transport = transport  # tests may route requests in process

    async def send_batch(self, messages: Sequence[SmsMessage]) -> list[str | None]:
        limit = asyncio.Semaphore(CONCURRENCY)
        async with httpx.AsyncClient(
            timeout=self._timeout, transport=self._transport, follow_redirects=False
        ) as client:

            async def post(message: SmsMessage) -> str | None:
                async with limit:
                    return await self._post(client, message)

            return list(await asyncio.gather(*(post(m) for m in messages)))

    async def _post(self, client: httpx.AsyncClient, message: SmsMessage) -> str | None:
        payload = _Payload(id=message.id, to=message.to, body=message.body, sender=self._sender)
        body = msgspec.json.encode(payload)
        headers = {"content-type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        try:
            response = await client.post(self._url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"SMS webhook: {type(exc).__name__}: {exc}"
        if not response.is_success:
            return f"SMS webhook answered HTTP {response.status_code}"
        return None
