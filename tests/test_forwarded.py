"""The client's address behind proxies (widget_server/forwarded.py): believed only from
trusted peers, read right to left, never chosen by the client."""

from __future__ import annotations

import pytest

from widget_server.forwarded import TrustedProxies, forwarded_for, parse_address

LB = "10.0.0.5"
XFF = TrustedProxies.from_settings("10.0.0.0/24, 192.168.7.7", "x-forwarded-for")
RFC = TrustedProxies.from_settings("10.0.0.0/24", "Forwarded")


def xff(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", v.encode()) for v in values]


def fwd(*values: str) -> list[tuple[bytes, bytes]]:
    return [(b"forwarded", v.encode()) for v in values]


def test_untrusted_peers_are_the_client_whatever_they_send() -> None:
    for proxies, headers in ((XFF, xff("1.2.3.4")), (RFC, fwd("for=1.2.3.4"))):
        assert proxies.client("198.51.100.9", headers) == "198.51.100.9"
    # A peer just outside the trusted network is not trusted.
    assert XFF.client("10.0.1.5", xff("1.2.3.4")) == "10.0.1.5"
    # No networks configured: nobody is trusted, not even loopback.
    nobody = TrustedProxies.from_settings("", "x-forwarded-for")
    assert not nobody
    assert nobody.client("127.0.0.1", xff("1.2.3.4")) == "127.0.0.1"


def test_the_balancers_entry_names_the_client() -> None:
    assert XFF.client(LB, xff("203.0.113.7")) == "203.0.113.7"
    assert RFC.client(LB, fwd("for=203.0.113.7;proto=https;by=10.0.0.5")) == "203.0.113.7"
    # No header from a trusted peer: the peer itself (a health check from the balancer).
    assert XFF.client(LB, []) == LB


def test_a_spoofed_entry_left_of_the_balancers_is_ignored() -> None:
    # The client wrote "6.6.6.6"; the balancer appended the address it saw.
    assert XFF.client(LB, xff("6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    # HAProxy adds a line of its own instead of appending: the lines are one list.
    assert XFF.client(LB, xff("6.6.6.6", "203.0.113.7")) == "203.0.113.7"
    assert RFC.client(LB, fwd('for="6.6.6.6", for=203.0.113.7')) == "203.0.113.7"


def test_chains_of_trusted_proxies_are_walked_right_to_left() -> None:
    # client -> edge proxy 192.168.7.7 -> balancer 10.0.0.5 -> us
    assert XFF.client(LB, xff("6.6.6.6, 203.0.113.7, 192.168.7.7")) == "203.0.113.7"
    # Every hop trusted (an internal client): the leftmost address.
    assert XFF.client(LB, xff("10.0.0.9, 192.168.7.7")) == "10.0.0.9"


def test_only_the_configured_header_is_read() -> None:
    # The balancer writes X-Forwarded-For; a client's own Forwarded passes through it.
    both = [*fwd("for=6.6.6.6"), *xff("203.0.113.7")]
    assert XFF.client(LB, both) == "203.0.113.7"
    assert XFF.client(LB, fwd("for=6.6.6.6")) == LB
    assert RFC.client(LB, xff("6.6.6.6")) == LB


def test_garbage_hops_end_the_walk_at_the_last_trusted_address() -> None:
    # A client inside the trusted network sends garbage: it is counted as itself.
    assert XFF.client(LB, xff("not-an-ip, 10.0.0.9")) == "10.0.0.9"
    for junk in ("unknown", "", "1.2.3.4.5", "::g", "1.2.3.4 5.6.7.8"):
        assert XFF.client(LB, xff(junk)) == LB, junk
    for node in ("for=unknown", "for=_hidden", "by=1.2.3.4", 'for="[::1', "for=1.2.3.4;;"):
        assert RFC.client(LB, fwd(node)) == LB, node


def test_addresses_are_normalised() -> None:
    assert XFF.client(LB, xff("203.0.113.7:4711")) == "203.0.113.7"
    assert XFF.client(LB, xff("[2001:DB8::1]:4711")) == "2001:db8::1"
    assert XFF.client(LB, xff("2001:db8:0:0::1")) == "2001:db8::1"
    assert XFF.client(LB, xff("::ffff:203.0.113.7")) == "203.0.113.7"
    assert RFC.client(LB, fwd('for="[2001:db8:cafe::17]:4711"')) == "2001:db8:cafe::17"
    # A balancer reaching us over IPv6 with an IPv4-mapped address is still trusted.
    assert XFF.client("::ffff:10.0.0.5", xff("203.0.113.7")) == "203.0.113.7"
    assert parse_address("[::1]") is not None and parse_address("x") is None


def test_forwarded_header_parsing() -> None:
    header = 'for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8::1]";host="a,b", by=x'
    assert forwarded_for(header) == ["192.0.2.60", "[2001:db8::1]", ""]
    assert forwarded_for(r'for="\"quoted\""') == ['"quoted"']


@pytest.mark.parametrize(
    ("trusted", "header", "named"),
    [
        ("10.0.0.0/33", "x-forwarded-for", "WIDGET_TRUSTED_PROXIES"),
        ("10.0.0.1/8", "x-forwarded-for", "WIDGET_TRUSTED_PROXIES"),  # host bits set
        ("lb.internal", "x-forwarded-for", "WIDGET_TRUSTED_PROXIES"),
        ("10.0.0.0/8", "x-real-ip", "WIDGET_PROXY_HEADER"),
    ],
)
def test_a_setting_that_does_not_parse_is_an_error_naming_it(
    trusted: str, header: str, named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        TrustedProxies.from_settings(trusted, header)
