"""One webhook request: to the vetted address, signed, bounded in time and in what is
read back, recorded as an ``Outcome`` for the delivery log.

The request goes to the IP address ``urls.vetted_address`` checked, with the endpoint's
host name in the ``Host`` header and as the TLS server name (httpx's ``sni_hostname``
extension), so the certificate is still verified against the name the partner gave.
Redirects are not followed: a 3xx fails the attempt like any other non-2xx answer.

Only the first ``RESPONSE_EXCERPT`` bytes of an answer are read: a receiver cannot make
this server download a large body, and the delivery log stays small.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import msgspec

from widget_server.webhooks.urls import Refused, Resolver, vetted_address

REQUEST_EXCERPT = 2048
RESPONSE_EXCERPT = 1024
ERROR_LENGTH = 300
USER_AGENT = "widget-server-webhooks/1"


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int | None
    error: str | None
    response_excerpt: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """Posts webhook requests; one per worker (one connection pool)."""

    def __init__(
        self,
        resolver: Resolver,
        *,
        timeout: float,
        allow_private: bool,
    ) -> None:
        self._resolver = resolver
        self._timeout = timeout
        self._allow_private = allow_private
        self._client: httpx.AsyncClient | None = None

    def _connections(self) -> httpx.AsyncClient:
        # Made on first use, inside the running loop; closed by ``aclose``.
        if self._client is None:
            # No environment proxies: a proxy would connect to the name, not the address.
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0)),
                follow_redirects=False,
                trust_env=False,
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        started = time.monotonic()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            # The whole exchange, not only each read: a receiver that drips one byte a
            # second would otherwise hold the request for as long as it likes.
            async with asyncio.timeout(self._timeout):
                status, excerpt = await self._exchange(url, body, headers)
        except Refused as refused:
            error = f"refused: {refused}"
        except TimeoutError:
            error = f"no answer within {self._timeout:g} s"
        except httpx.HTTPError as failed:
            error = f"{type(failed).__name__}: {failed}"
        except (httpx.InvalidURL, ValueError, OSError) as failed:
            # Recorded like any failure: a delivery whose attempt is not recorded would be
            # retried after every lease, forever, without counting towards giving up.
            error = f"{type(failed).__name__}: {failed}"
        return Outcome(
            status_code=status,
            error=error[:ERROR_LENGTH] if error else None,
            response_excerpt=excerpt,
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    async def _exchange(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        target = httpx.URL(url)
        port = target.port or (443 if target.scheme == "https" else 80)
        address = await vetted_address(self._resolver, target.host, port, self._allow_private)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request_headers = {
            "host": target.netloc.decode("ascii"),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **headers,
        }
        async with self._connections().stream(
            "POST",
            target.copy_with(host=address),
            content=body,
            headers=request_headers,
            extensions=extensions,
        ) as response:
            return response.status_code, await _excerpt(response)


async def _excerpt(response: httpx.Response) -> str:
    read = bytearray()
    async for chunk in response.aiter_bytes():
        read += chunk
        if len(read) >= RESPONSE_EXCERPT:
            break
    return bytes(read[:RESPONSE_EXCERPT]).decode("utf-8", "replace")


def request_excerpt(body: bytes) -> str:
    return body[:REQUEST_EXCERPT].decode("utf-8", "replace")
