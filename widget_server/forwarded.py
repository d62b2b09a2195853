"""The client's address behind load balancers: ``X-Forwarded-For`` or ``Forwarded``
(RFC 7239), believed only from the proxies the operator trusts.

Login throttling, the audit log and session lists key on the client's address. Behind a
load balancer every request comes from the balancer's address, so the address has to be
read from the header the balancer adds; but a client can send that header too, with any
address in it. So::

    TCP peer not a trusted proxy        the peer is the client; the headers are ignored
    TCP peer a trusted proxy            walk the header's hops from the right (the nearest
                                        proxy's entry last): skip trusted proxies; the first
                                        hop that is not one is the client
    a hop that is no IP address         ("unknown", RFC 7239's obfuscated "_name", garbage)
                                        ends the walk: the last trusted hop stands, so a
                                        client cannot choose the address it is counted under

Only the one header the operator names is read (``Settings.proxy_header``): a balancer
that writes ``X-Forwarded-For`` passes a client's own ``Forwarded`` through untouched,
and reading that one as well would believe whatever the client wrote into it. Several
lines of the header are one list, in order (HAProxy adds a line of its own rather than
appending to the client's).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HEADERS = ("x-forwarded-for", "forwarded")

# RFC 7239: elements split by ",", pairs by ";"; a value is a token or a quoted string.
_PAIR = re.compile(r'\s*([A-Za-z0-9!#$%&\'*+.^_`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]*)\s*')
_ESCAPE = re.compile(r"\\(.)")
# "[2001:db8::1]:4711", "[2001:db8::1]", "192.0.2.1:8080", or a bare address.
_BRACKETED = re.compile(r"\[([^\]]+)\](?::\d{1,5})?")
_V4_PORT = re.compile(r"([0-9.]+):\d{1,5}")


class TrustedProxies:
    """The networks whose requests may name their client, and the header they name it in."""

    def __init__(self, networks: Sequence[IPNetwork], header: str = "x-forwarded-for") -> None:
        if header not in HEADERS:
            raise ValueError(f"proxy header must be one of {', '.join(HEADERS)}, not {header!r}")
        self.networks = tuple(networks)
        self.header = header
        self._name = header.encode("latin-1")

    @classmethod
    def from_settings(cls, trusted: str, header: str) -> TrustedProxies:
        """From ``WIDGET_TRUSTED_PROXIES`` (comma-separated addresses or CIDR networks) and
        ``WIDGET_PROXY_HEADER``; a value that is neither is an error naming the setting,
        never silently dropped (a typo would otherwise trust nobody, or the wrong hosts)."""
        networks: list[IPNetwork] = []
        for item in (part.strip() for part in trusted.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=True))
            except ValueError as exc:
                raise ValueError(
                    f"WIDGET_TRUSTED_PROXIES: {item!r} is not an IP address or network ({exc})"
                ) from None
        try:
            return cls(networks, header.strip().lower())
        except ValueError as exc:
            raise ValueError(f"WIDGET_PROXY_HEADER: {exc}") from None

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str | IPAddress | None) -> bool:
        parsed = parse_address(address) if isinstance(address, str) or address is None else address
        return parsed is not None and any(parsed in network for network in self.networks)

    def client(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """The client's address for a request from ``peer`` with these (ASGI) headers."""
        current = parse_address(peer)
        if current is None or not self.trusts(current):
            return peer
        values = [value.decode("latin-1") for name, value in headers if name == self._name]
        if not values:
            return str(current)
        joined = ",".join(values)
        hops = forwarded_for(joined) if self.header == "forwarded" else joined.split(",")
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                break
            current = address
            if not self.trusts(address):
                break
        return str(current)


    def scheme(self, peer: str | None, headers: Iterable[tuple[bytes, bytes]]) -> str | None:
        """``"https"`` or ``"http"`` as the trusted proxy next to us says the client
        connected (``X-Forwarded-Proto`` with ``X-Forwarded-For``, ``proto=`` of the last
        ``Forwarded`` element); None when the peer is not trusted or says nothing. Only the
        nearest hop's word counts: it is the one that terminated TLS or passed it on."""
        if not self.trusts(peer):
            return None
        if self.header == "forwarded":
            values = [v.decode("latin-1") for n, v in headers if n == self._name]
            last = _elements(",".join(values))[-1] if values else ""
            said = _pair_value(last, "proto")
        else:
            values = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-proto"]
            said = ",".join(values).split(",")[-1] if values else ""
        said = said.strip().lower()
        return said if said in ("http", "https") else None


def _pair_value(element: str, wanted: str) -> str:
    for pair in element.split(";"):
        match = _PAIR.fullmatch(pair)
        if match is not None and match.group(1).lower() == wanted:
            raw = match.group(2)
            return _ESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
    return ""


def parse_address(value: str | None) -> IPAddress | None:
    """An IP address out of a header hop or a peer: brackets and ports dropped, an
    IPv4-mapped IPv6 address as IPv4 (one client, one key); None if it is not one."""
    if value is None:
        return None
    text = value.strip().strip('"')
    bracketed = _BRACKETED.fullmatch(text)
    v4_port = _V4_PORT.fullmatch(text)
    if bracketed:
        text = bracketed.group(1)
    elif v4_port:
        text = v4_port.group(1)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_for(value: str) -> list[str]:
    """The ``for=`` node of each element of a ``Forwarded`` header, in order; an element
    without one, or one that does not parse, is ``""`` (it ends the walk there)."""
    nodes: list[str] = []
    for element in _elements(value):
        node = ""
        for pair in element.split(";"):
            match = _PAIR.fullmatch(pair)
            if match is None:
                node = ""
                break
            name, raw = match.groups()
            if name.lower() == "for":
                node = _ESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw
        nodes.append(node)
    return nodes


def _elements(value: str) -> list[str]:
    """``value`` split at the commas outside quoted strings."""
    elements, start, quoted, escaped = [], 0, False, False
    for i, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            elements.append(value[start:i])
            start = i + 1
    elements.append(value[start:])
    return elements
