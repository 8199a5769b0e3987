"""The PROXY protocol header the XMPP listener reads from a load balancer (versions 1 and 2, as
HAProxy's `send-proxy` and `send-proxy-v2` write them): what it names, how long it is, when it
is not complete yet, and what is refused."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from hxim.c2s.proxy_protocol import HEADER_MAX, Header, ProxyHeaderError, parse

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
STREAM = b"<?xml version='1.0'?><stream:stream"


def v2(command: int, family: int, body: bytes) -> bytes:
    return SIGNATURE + struct.pack("!BBH", 0x20 | command, family, len(body)) + body


def v2_tcp4(src: str, sport: int, tlvs: bytes = b"") -> bytes:
    dst = ipaddress.IPv4Address("10.0.0.1").packed
    return v2(1, 0x11, ipaddress.IPv4Address(src).packed + dst + struct.pack("!HH", sport, 5222) + tlvs)


def test_version_2_names_the_client_over_ipv4_and_ipv6() -> None:
    header = v2_tcp4("203.0.113.9", 40000)
    assert parse(header + STREAM) == Header(28, ("203.0.113.9", 40000))
    six = v2(1, 0x21, ipaddress.IPv6Address("2001:db8::7").packed + bytes(16) + struct.pack("!HH", 1234, 5222))
    assert parse(six) == Header(52, ("2001:db8::7", 1234))
    # TLVs after the addresses (HAProxy may add some) are part of the header
    with_tlvs = v2_tcp4("203.0.113.9", 40000, tlvs=b"\x04\x00\x02ab")
    assert parse(with_tlvs + STREAM) == Header(33, ("203.0.113.9", 40000))


def test_version_2_local_and_other_families_name_nobody() -> None:
    """LOCAL is the balancer's own connection (its health check): the peer stands."""
    assert parse(v2(0, 0x00, b"")) == Header(16, None)
    assert parse(v2(1, 0x31, bytes(216))) == Header(232, None)  # a Unix socket


def test_version_1_names_the_client() -> None:
    line = b"PROXY TCP4 198.51.100.4 10.0.0.1 51000 5222\r\n"
    assert parse(line + STREAM) == Header(len(line), ("198.51.100.4", 51000))
    line = b"PROXY TCP6 2001:db8::9 2001:db8::1 51000 5222\r\n"
    assert parse(line) == Header(len(line), ("2001:db8::9", 51000))
    assert parse(b"PROXY UNKNOWN\r\n" + STREAM) == Header(15, None)


@pytest.mark.parametrize("version", [1, 2])
def test_an_incomplete_header_waits_for_more(version: int) -> None:
    whole = v2_tcp4("203.0.113.9", 40000) if version == 2 else b"PROXY TCP4 198.51.100.4 10.0.0.1 51000 5222\r\n"
    for cut in range(1, len(whole)):
        assert parse(whole[:cut]) is None, cut
    assert parse(whole) is not None


@pytest.mark.parametrize(
    "data",
    [
        STREAM,  # a client speaking XMPP straight away
        b"GET / HTTP/1.1\r\n",
        b"PROXZ TCP4",
        b"PROXY TCP4 not-an-address 10.0.0.1 1 2\r\n",
        b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",  # an IPv6 address said to be IPv4
        b"PROXY TCP4 198.51.100.4 10.0.0.1 99999 2\r\n",
        b"PROXY TCP4 " + b"1" * 120,  # no end of line where one must be
        SIGNATURE[:11] + b"X",
        SIGNATURE + bytes([0x30, 0x11, 0, 12]),  # version 3
        SIGNATURE + bytes([0x22, 0x11, 0, 12]),  # command 2
        SIGNATURE + struct.pack("!BBH", 0x21, 0x11, HEADER_MAX),  # longer than hxim reads
    ],
)
def test_what_is_not_a_header_is_refused(data: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse(data)
