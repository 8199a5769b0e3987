"""The HTTP client of callbacks: JSON POSTs over kept-alive HTTP/1.1 connections (RFC 9112).

A callback is one small POST answered by a short body, thousands a second under load: httpx
spends about a millisecond of CPU on each (its connection pool and anyio layers), which made the
stored message rate with one post-send rule a fifth of the rate without. This client does only
what callbacks need, on asyncio streams (about 20 µs a request): a pool of idle connections per
origin (`http`, or `https` with the system's certificates), a request with `Content-Length`, and
an answer with `Content-Length`, chunked, or read to the end of the connection, read up to a
bound (a longer answer is a failure, never buffered whole). No redirects, no proxies. A kept
connection that the receiver closed meanwhile is replaced once, transparently.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from urllib.parse import urlsplit

__all__ = ["AnswerTooLong", "CallbackHttp", "HttpFailure"]

_HEAD_MAX = 16 * 1024


class HttpFailure(Exception):
    """The receiver's answer was not HTTP/1.x as expected, or the connection broke."""


class AnswerTooLong(HttpFailure):
    pass


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


_Origin = tuple[tuple[str, str, int], str, int, bool, bytes]  # (pool key, host, port, tls, request head)
_ORIGINS_MAX = 1024  # URLs whose parts are kept (a rule's URL, a replay's target URL)


class CallbackHttp:
    def __init__(self, idle_max: int) -> None:
        self.idle_max = idle_max
        self._idle: dict[tuple[str, str, int], list[_Conn]] = {}
        self._tls: ssl.SSLContext | None = None
        self._origins: dict[str, _Origin] = {}  # by URL: parsed once, not for every callback

    def _origin(self, url: str) -> _Origin:
        found = self._origins.get(url)
        if found is None:
            parts = urlsplit(url)
            tls = parts.scheme == "https"
            host = parts.hostname or ""
            port = parts.port or (443 if tls else 80)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            authority = host if parts.port is None else f"{host}:{port}"
            head = (
                f"POST {target} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n"
                "User-Agent: hxim-callbacks\r\nContent-Length: "
            ).encode()
            if len(self._origins) >= _ORIGINS_MAX:
                self._origins.clear()
            found = self._origins[url] = ((parts.scheme, host, port), host, port, tls, head)
        return found

    async def post(self, url: str, body: bytes, timeout: float, limit: int) -> tuple[int, str]:
        """POST `body` (JSON) to `url`: the status and the answer (at most `limit` characters,
        else `AnswerTooLong`), within `timeout` seconds (else `TimeoutError`)."""
        key, host, port, tls, head = self._origin(url)
        request = b"%s%d\r\n\r\n%s" % (head, len(body), body)
        async with asyncio.timeout(timeout):
            for attempt in (1, 2):
                reused = bool(self._idle.get(key))
                reader, writer = self._idle[key].pop() if reused else await self._open(host, port, tls)
                try:
                    writer.write(request)
                    status, text, keep = await _answer(reader, limit)
                except asyncio.IncompleteReadError as exc:
                    writer.close()
                    if reused and attempt == 1 and not exc.partial:  # a kept connection the peer had closed
                        continue
                    raise HttpFailure("the connection closed before the answer") from None
                except ValueError:  # a malformed length
                    writer.close()
                    raise HttpFailure("malformed answer") from None
                except BaseException:
                    writer.close()
                    raise
                if keep and len(self._idle.setdefault(key, [])) < self.idle_max:
                    self._idle[key].append((reader, writer))
                else:
                    writer.close()
                return status, text
        raise AssertionError("unreachable")

    async def _open(self, host: str, port: int, tls: bool) -> _Conn:
        context = None
        if tls:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            context = self._tls
        return await asyncio.open_connection(host, port, ssl=context, limit=_HEAD_MAX)

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for _, writer in conns:
                with contextlib.suppress(Exception):
                    writer.close()


async def _answer(reader: asyncio.StreamReader, limit: int) -> tuple[int, str, bool]:
    """(status, text, whether the connection may be kept) of one answer."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise HttpFailure("answer head too long") from None
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1.") or not status_line[1].isdecimal():
        raise HttpFailure("not an HTTP/1.x answer")
    status = int(status_line[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep = connection != "close" and (status_line[0] != "HTTP/1.0" or connection == "keep-alive")
    cap = 4 * limit + 4  # bytes: `limit` characters of UTF-8 at most
    data: bytes | bytearray = b""
    if status in (204, 304) or 100 <= status < 200:
        pass
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                break
            if len(chunks) + size > cap:
                raise AnswerTooLong
            chunks += await reader.readexactly(size)
            await reader.readexactly(2)
        data = chunks
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > cap:
            raise AnswerTooLong
        data = await reader.readexactly(length)
    else:  # to the end of the connection
        data = await reader.read(cap + 1)
        while data and len(data) <= cap:
            more = await reader.read(cap + 1 - len(data))
            if not more:
                break
            data += more
        if len(data) > cap:
            raise AnswerTooLong
        keep = False
    text = bytes(data).decode("utf-8", errors="replace")
    if len(text) > limit:
        raise AnswerTooLong
    return status, text, keep
