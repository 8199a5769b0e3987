"""Test helpers for hxim.xmpp: a client-side SCRAM (RFC 5802) to compute proofs, and ways to
feed a stream in chunks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator

STREAM_OPEN = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
)
WS_OPEN = b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='easemob.com' version='1.0'/>"


def chunked(data: bytes, how: str) -> Iterator[bytes]:
    """`whole`, `bytewise`, or `N` (N-byte pieces)."""
    if how == "whole":
        yield data
        return
    size = 1 if how == "bytewise" else int(how)
    for i in range(0, len(data), size):
        yield data[i : i + size]


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


class ScramClient:
    """The client side of SCRAM without channel binding."""

    def __init__(self, hash_name: str, username: str, password: str, cnonce: str, gs2: str = "n,,") -> None:
        self.h = hash_name
        self.username = username
        self.password = password
        self.cnonce = cnonce
        self.gs2 = gs2
        self.first_bare = f"n={username.replace('=', '=3D').replace(',', '=2C')},r={cnonce}"
        self.server_signature = b""

    def first(self) -> bytes:
        return (self.gs2 + self.first_bare).encode()

    def final(self, server_first: bytes) -> bytes:
        attrs = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salt = base64.b64decode(attrs["s"])
        iterations = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(self.h, self.password.encode(), salt, iterations)
        client_key = hmac.digest(salted, b"Client Key", self.h)
        stored_key = hashlib.new(self.h, client_key).digest()
        without_proof = f"c={b64(self.gs2)},r={attrs['r']}"
        auth_message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, self.h)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = hmac.digest(salted, b"Server Key", self.h)
        self.server_signature = hmac.digest(server_key, auth_message, self.h)
        return f"{without_proof},p={b64(proof)}".encode()
