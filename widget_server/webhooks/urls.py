"""Where webhooks may go: the URL rules checked when an endpoint is saved, and the address
check made before every request.

A partner chooses the URL, and this server then makes requests to it from inside the
operator's network: without these checks an endpoint could point at the cloud metadata
service, a database's HTTP port or an admin page on the LAN (server-side request
forgery). So:

- when saved: ``https://`` only, no credentials in the URL, no fragment; an IP literal
  must be public, and ``localhost`` names are refused (``check_url``);
- before each request: the host name is resolved, every address it resolves to must be
  public (not private, loopback, link-local, multicast, reserved or unspecified), and the
  request goes to the address that was checked, not to a second lookup that a DNS server
  could answer differently (``vetted_address``); redirects are never followed.

``Settings.webhooks_allow_private`` lifts the address rule and allows ``http://`` for
loopback hosts: for development and tests only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Protocol

import httpx

MAX_URL = 2048
_LOOPBACK_NAMES = ("localhost", "localhost.")


class Refused(Exception):
    """The request was not made: the target is not allowed. ``str()`` says why."""


def check_url(url: str, allow_private: bool) -> list[str]:
    """Message ids of what is wrong with ``url`` as an endpoint; empty when it is fine."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL or url != url.strip():
        return ["webhook.url_invalid"]
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return ["webhook.url_invalid"]
    host = parsed.host
    if parsed.scheme not in ("https", "http") or not host or not 0 < (parsed.port or 1) < 65536:
        return ["webhook.url_invalid"]
    problems = []
    if parsed.userinfo:
        problems.append("webhook.url_credentials")
    if parsed.fragment:
        problems.append("webhook.url_invalid")
    loopback = _is_loopback_host(host)
    if parsed.scheme == "http" and not (allow_private and loopback):
        problems.append("webhook.url_https")
    if not allow_private and (loopback or not _literal_is_public(host)):
        problems.append("webhook.url_private")
    return problems


def _is_loopback_host(host: str) -> bool:
    name = host.lower()
    if name in _LOOPBACK_NAMES or name.endswith((".localhost", ".localhost.")):
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def _literal_is_public(host: str) -> bool:
    """True for a host name (resolved later) and for a public IP literal."""
    address = _address(host)
    return address is None or is_public(address)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address.is_global and not address.is_multicast


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` resolves to, as text."""
        ...


class SystemResolver:
    """The operating system's resolver, off the event loop (``getaddrinfo``)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


async def vetted_address(resolver: Resolver, host: str, port: int, allow_private: bool) -> str:
    """The address to connect to for ``host``; ``Refused`` if any address it resolves to
    is not public (a name that resolves to one public and one private address must not
    get a second chance at the private one)."""
    literal = _address(host)
    if literal is not None:
        candidates = [literal]
    else:
        try:
            found = await resolver.resolve(host, port)
        except OSError as error:
            raise Refused(f"the host name did not resolve: {error}") from error
        candidates = [ipaddress.ip_address(text.partition("%")[0]) for text in found]
        if not candidates:
            raise Refused("the host name did not resolve")
    if not allow_private:
        for address in candidates:
            if not is_public(address):
                raise Refused(f"{address} is not a public address")
    return str(candidates[0])
