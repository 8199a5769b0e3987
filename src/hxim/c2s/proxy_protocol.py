"""The PROXY protocol header (HAProxy's PROXY protocol, versions 1 and 2): what a load balancer
that passes TCP connections through sends first on each, naming the client it accepted.

The XMPP listener reads it from the addresses of `trusted_proxies` when `xmpp_proxy_protocol` is
on (HAProxy: `send-proxy-v2` on the server line), so that failed logins are counted by the
client's address rather than the balancer's. `parse` is sans-I/O: it is given the bytes received
so far and says whether the header is complete, what it names, and how many bytes it took.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

__all__ = ["HEADER_MAX", "Header", "ProxyHeaderError", "parse"]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107  # "PROXY TCP6 " + two IPv6 addresses + two ports + CRLF, at the longest
HEADER_MAX = 16 + 4096  # a v2 header's fixed part and what it may carry; a longer one is refused


class ProxyHeaderError(ValueError):
    """The connection does not start with a PROXY protocol header that can be read."""


@dataclass(frozen=True, slots=True)
class Header:
    """A complete header: `size` bytes long; `client` the client's address and port, or None
    when the header names none (v2 LOCAL, such as the balancer's health checks; v1 UNKNOWN; a
    family other than TCP over IPv4 or IPv6): then the connection's own peer stands."""

    size: int
    client: tuple[str, int] | None


def parse(data: bytes) -> Header | None:
    """The header at the start of `data`, or None while it is incomplete."""
    if data[:1] == b"P":
        return _v1(data)
    if data[:1] == b"\r":
        return _v2(data)
    raise ProxyHeaderError("no PROXY protocol header")


def _v1(data: bytes) -> Header | None:
    if b"PROXY "[: len(data)] != data[:6]:
        raise ProxyHeaderError("no PROXY protocol header")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError("a PROXY protocol v1 header longer than 107 bytes")
        return None
    fields = data[:end].decode("ascii", "replace").split(" ")
    if fields[1] == "UNKNOWN":
        return Header(end + 2, None)
    if fields[1] not in ("TCP4", "TCP6") or len(fields) != 6:
        raise ProxyHeaderError("a PROXY protocol v1 header that cannot be read")
    try:
        address = ipaddress.ip_address(fields[2])
        port = int(fields[4])
    except ValueError:
        raise ProxyHeaderError("a PROXY protocol v1 header that cannot be read") from None
    if address.version != (4 if fields[1] == "TCP4" else 6) or not 0 <= port <= 65535:
        raise ProxyHeaderError("a PROXY protocol v1 header that cannot be read")
    return Header(end + 2, (str(address), port))


def _v2(data: bytes) -> Header | None:
    if V2_SIGNATURE[: len(data)] != data[:12]:
        raise ProxyHeaderError("no PROXY protocol header")
    if len(data) < 16:
        return None
    version_command, family, length = struct.unpack("!BBH", data[12:16])
    if version_command >> 4 != 2 or version_command & 0x0F > 1:
        raise ProxyHeaderError("a PROXY protocol v2 header of an unknown version or command")
    size = 16 + length
    if size > HEADER_MAX:
        raise ProxyHeaderError("a PROXY protocol v2 header longer than hxim reads")
    if len(data) < size:
        return None
    if version_command & 0x0F == 0:  # LOCAL: the balancer's own connection
        return Header(size, None)
    body = data[16:size]
    if family == 0x11 and length >= 12:  # TCP over IPv4
        return Header(size, (str(ipaddress.IPv4Address(body[0:4])), struct.unpack("!H", body[8:10])[0]))
    if family == 0x21 and length >= 36:  # TCP over IPv6
        return Header(size, (str(ipaddress.IPv6Address(body[0:16])), struct.unpack("!H", body[32:34])[0]))
    return Header(size, None)
