"""A secure incremental reader for one XML stream (RFC 6120 §4, §11; RFC 7395 framing).

`StreamReader.feed(data)` takes bytes and returns reader events: the stream header
(`StreamHeader`), each complete top-level element (`TopElement`, an
`xml.etree.ElementTree.Element`) and the end of the stream (`StreamEnd`). Anything the RFC
forbids raises `StreamError` carrying the condition to send; after that the reader is dead and
every later `feed()` raises the same error.

Two framings, one set of rules:
* `"tcp"`: a classic stream, `<stream:stream …>` … `</stream:stream>`; `feed()` takes chunks cut
  anywhere (even inside a multi-byte UTF-8 character).
* `"websocket"` (RFC 7395): every `feed()` is one WebSocket text message holding complete
  elements: `<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' …/>`, stanzas,
  `<close xmlns='…'/>`. Frames are parsed inside a virtual stream whose default namespace is
  `jabber:client` (with `stream` bound), so a stanza that omits `xmlns` still lands in
  `jabber:client`, and an XML declaration at the start of a frame is tolerated.

Parsing: the C-accelerated `ElementTree.XMLPullParser` (the fastest stdlib option we measured:
pyexpat with Python callbacks is about three times slower, see bench/xmpp_parse.py), with a
fresh parser per stream and after each `reset()` (stream restart). Depth is counted from the
start/end events; a top-level element is complete when depth returns to 1, and the root is
then cleared so memory stays flat. Security (RFC 6120 §11.1, restricted XML):
* before the stream header a small pyexpat parser watches the prolog (DOCTYPE, comments, PIs,
  a non-UTF-8 encoding declaration) — the C parser would silently accept an internal DTD;
* after it, comments and PIs arrive as parser events and are refused; entity references other
  than the five predefined ones are undefined (no DTD), which expat reports and we map to
  `restricted-xml`; undeclared prefixes map to `bad-namespace-prefix`; everything else
  malformed is `not-well-formed`;
* a top-level element (or the prolog and header) larger than `max_stanza_bytes`, or nested
  deeper than `max_depth`, is `policy-violation` (RFC 6120 §4.9.3.14 names size limits under
  this condition; the XEP-0478 application condition `<stanza-too-big xmlns='urn:xmpp:errors'/>`
  is attached). TCP input is measured in slices of `SLICE` bytes: a stanza of at most
  `max_stanza_bytes` is always accepted, and one that exceeds it by more than `SLICE` is always
  refused. WebSocket frames are measured exactly.
* whitespace between stanzas (keepalives) is dropped before the parser and never counted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Literal
from xml.parsers import expat

from hxim.xmpp import namespaces as ns
from hxim.xmpp.errors import StreamError

__all__ = [
    "SLICE",
    "Framing",
    "ReaderEvent",
    "StreamEnd",
    "StreamHeader",
    "StreamReader",
    "TopElement",
]

Framing = Literal["tcp", "websocket"]

SLICE = 4096

_EVENTS = ("start", "end", "comment", "pi")
_STREAM_TAG = "{" + ns.STREAMS + "}stream"
_OPEN_TAG = "{" + ns.FRAMING + "}open"
_CLOSE_TAG = "{" + ns.FRAMING + "}close"

_VIRTUAL_ROOT = b"<stream:stream xmlns='" + ns.CLIENT.encode() + b"' xmlns:stream='" + ns.STREAMS.encode() + b"'>"

# A complete end tag or empty-element tag (the last tag of a chunk that ends on a boundary).
_CLOSING_TAG = re.compile(rb"""<(?:/[^\s<>/]+\s*|[^\s<>/!?]+(?:\s+[^\s=/<>]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*/)>""")
_START_TAG = re.compile(rb"""<[^\s<>/!?]+(?:\s+[^\s=/<>]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*\s*>""")
_XML_DECL = re.compile(rb"""\s*<\?xml\s[^?]*\?>""")
_DECL_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")

_RESTRICTED_CODES = {
    expat.errors.codes[expat.errors.XML_ERROR_UNDEFINED_ENTITY],
    expat.errors.codes[expat.errors.XML_ERROR_RECURSIVE_ENTITY_REF],
    expat.errors.codes[expat.errors.XML_ERROR_EXTERNAL_ENTITY_HANDLING],
    expat.errors.codes[expat.errors.XML_ERROR_BINARY_ENTITY_REF],
    expat.errors.codes[expat.errors.XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF],
    expat.errors.codes[expat.errors.XML_ERROR_ENTITY_DECLARED_IN_PE],
}
_PREFIX_CODES = {
    expat.errors.codes[expat.errors.XML_ERROR_UNBOUND_PREFIX],
    expat.errors.codes[expat.errors.XML_ERROR_UNDECLARING_PREFIX],
}


@dataclass(frozen=True, slots=True)
class StreamHeader:
    """The stream opened: `<stream:stream>` (TCP) or `<open/>` (WebSocket).

    `tag` is the resolved `{namespace}local` name, `attrs` the attributes (`xml:lang` as
    `{http://www.w3.org/XML/1998/namespace}lang`), `namespaces` the declarations on it
    (prefix → URI, `""` for the default namespace)."""

    tag: str
    attrs: dict[str, str] = field(hash=False)
    namespaces: dict[str, str] = field(hash=False)


@dataclass(frozen=True, slots=True)
class TopElement:
    """A complete child of the stream: a stanza or a nonza (`<auth/>`, `<starttls/>` …).
    Its `tail` is meaningless and may change later."""

    element: ET.Element


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The peer closed the stream: `</stream:stream>` or `<close/>`."""


ReaderEvent = StreamHeader | TopElement | StreamEnd


def _too_big(limit: int) -> StreamError:
    return StreamError(
        "policy-violation",
        f"A stanza is larger than the limit of {limit} bytes.",
        app_condition="stanza-too-big",
        app_ns=ns.XMPP_ERRORS,
    )


class _HeaderSeen(Exception):
    def __init__(self, name: str, attrs: dict[str, str], offset: int) -> None:
        self.name = name
        self.attrs = attrs
        self.offset = offset  # where the header's start tag begins, in bytes from the stream start


class _PrologGuard:
    """Watches the bytes before the stream header with pyexpat (no namespace processing, so the
    header's prefix and `xmlns` attributes are visible as written)."""

    def __init__(self) -> None:
        p = expat.ParserCreate("UTF-8")
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._doctype
        p.CommentHandler = self._comment
        p.ProcessingInstructionHandler = self._pi
        p.XmlDeclHandler = self._xmldecl
        p.StartElementHandler = self._start
        self.parser = p
        self.fed = 0  # bytes fed before the current chunk

    @staticmethod
    def _doctype(*_: object) -> None:
        raise StreamError("restricted-xml", "Document type declarations are not allowed.")

    @staticmethod
    def _comment(*_: object) -> None:
        raise StreamError("restricted-xml", "XML comments are not allowed.")

    @staticmethod
    def _pi(*_: object) -> None:
        raise StreamError("restricted-xml", "XML processing instructions are not allowed.")

    @staticmethod
    def _xmldecl(version: str | None, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise StreamError("unsupported-encoding", "Streams must be encoded in UTF-8.")

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        raise _HeaderSeen(name, attrs, self.parser.CurrentByteIndex)

    def feed(self, data: bytes) -> _HeaderSeen | None:
        try:
            self.parser.Parse(data, False)
        except _HeaderSeen as seen:
            seen.offset -= self.fed
            seen.__traceback__ = None  # it would keep this parser (and its buffers) alive
            return seen
        except expat.ExpatError as exc:
            raise _parse_error(exc.code, data) from None
        self.fed += len(data)
        return None


def _parse_error(code: int | None, data: bytes) -> StreamError:
    if code in _RESTRICTED_CODES or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return StreamError("restricted-xml", "Entity references and DTDs are not allowed.")
    if code in _PREFIX_CODES:
        return StreamError("bad-namespace-prefix", "An XML namespace prefix was used without being declared.")
    return StreamError("not-well-formed", "The XML sent is not well-formed.")


def _ends_on_start_tag(data: bytes) -> bool:
    """Whether `data` ends with a complete start tag (the stream header, at depth 1)."""
    end = len(data.rstrip())
    if end == 0 or data[end - 1] != 0x3E:
        return False
    start = data.rfind(b"<", 0, end)
    return start >= 0 and _START_TAG.fullmatch(data, start, end) is not None


def _ends_on_boundary(data: bytes) -> bool:
    """Whether `data` (at depth 1 after parsing it) ends with a complete closing tag.

    `<` cannot occur inside attribute values or text, and comments and PIs are refused, so the
    last `<` of data that leaves the parser at depth 1 starts its last tag (a CDATA section
    would have to be closed by an end tag after it)."""
    end = len(data.rstrip())
    if end == 0 or data[end - 1] != 0x3E:  # '>'
        return False
    start = data.rfind(b"<", 0, end)
    return start >= 0 and _CLOSING_TAG.fullmatch(data, start, end) is not None


class StreamReader:
    """Reads one XML stream. Call `reset()` when the stream restarts (after STARTTLS or SASL)."""

    def __init__(
        self,
        framing: Framing = "tcp",
        *,
        max_stanza_bytes: int = 256 * 1024,
        max_depth: int = 64,
    ) -> None:
        if framing not in ("tcp", "websocket"):
            raise ValueError(f"unknown framing {framing!r}")
        if max_stanza_bytes < 1024:
            raise ValueError("max_stanza_bytes must be at least 1024")
        self.framing: Framing = framing
        self.max_stanza_bytes = max_stanza_bytes
        self.max_depth = max_depth
        self._error: StreamError | None = None
        self.reset()

    # --- state ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start reading a new stream with a fresh parser (RFC 6120 §4.3.3)."""
        # The C XMLParser with a TreeBuilder target, its events appended to our own list: what
        # XMLPullParser does, minus its per-feed Python wrapper and generator (about 10% faster).
        self._parser = ET.XMLParser(target=ET.TreeBuilder(), encoding="UTF-8")
        self._queue: list[tuple[str, ET.Element]] = []
        self._parser._setevents(self._queue, _EVENTS)  # type: ignore[attr-defined]
        self._root: ET.Element | None = None
        self._depth = 0
        self._pending = 0  # bytes fed since the last known top-level boundary
        self._boundary = False  # the last feed ended exactly between two top-level elements
        self._ended = False
        self._guard: _PrologGuard | None = None
        self._header_seen: _HeaderSeen | None = None
        self._opened = False  # the stream header was read in the piece being accounted
        if self.framing == "websocket":
            self._parser.feed(_VIRTUAL_ROOT)
            self._root = self._queue.pop()[1]
            self._depth = 1
            self._boundary = True
        else:
            self._guard = _PrologGuard()

    @property
    def ended(self) -> bool:
        """The peer's stream end was read; further input is ignored."""
        return self._ended

    # --- input ------------------------------------------------------------------------------------
    def feed(self, data: bytes | str) -> list[ReaderEvent]:
        """Parse more input: any chunk in TCP framing, one whole message in WebSocket framing."""
        if self._error is not None:
            raise self._error
        if isinstance(data, str):  # a lone surrogate becomes bytes that are not UTF-8: a stream error
            data = data.encode("utf-8", "surrogatepass")
        if self._ended or not data:
            return []
        try:
            if self.framing == "websocket":
                return self._feed_frame(data)
            return self._feed_tcp(data)
        except StreamError as exc:
            self._error = exc
            raise

    def _feed_tcp(self, data: bytes) -> list[ReaderEvent]:
        out: list[ReaderEvent] = []
        if self._guard is not None:
            self._pending += len(data)
            if self._pending > self.max_stanza_bytes:
                raise _too_big(self.max_stanza_bytes)
            seen = self._guard.feed(data)
            if seen is None:
                self._push(data, out)  # prolog: XML declaration, whitespace, part of the header
                return out
            self._header_seen = seen
            self._guard = None
            if seen.offset > 0:
                self._push(data[: seen.offset], out)
                data = data[seen.offset :]
        elif self._boundary and data.isspace():
            return out  # whitespace keepalive between stanzas
        for i in range(0, len(data), SLICE):
            piece = data[i : i + SLICE] if len(data) > SLICE else data
            self._account(piece, self._push(piece, out))
        return out

    def _account(self, piece: bytes, completed: int) -> None:
        """Track the bytes of the top-level element in progress, and whether `piece` ended on a
        boundary between top-level elements."""
        opened, self._opened = self._opened, False
        if self._depth <= 1 and (_ends_on_boundary(piece) if not opened or completed else _ends_on_start_tag(piece)):
            self._pending = 0
            self._boundary = True
            return
        self._boundary = False
        self._pending = len(piece) if completed or opened else self._pending + len(piece)
        if self._pending > self.max_stanza_bytes + (SLICE if completed or opened else 0):
            raise _too_big(self.max_stanza_bytes)

    def _feed_frame(self, data: bytes) -> list[ReaderEvent]:
        if len(data) > self.max_stanza_bytes:
            raise _too_big(self.max_stanza_bytes)
        decl = _XML_DECL.match(data)
        if decl is not None:
            enc = _DECL_ENCODING.search(decl.group(0))
            if enc is not None and enc.group(1).lower() not in (b"utf-8", b"utf8"):
                raise StreamError("unsupported-encoding", "Streams must be encoded in UTF-8.")
            data = data[decl.end() :]
        if data.isspace() or not data:
            return []
        out: list[ReaderEvent] = []
        self._push(data, out)
        if self._ended:
            return out
        if self._depth != 1 or not _ends_on_boundary(data):
            raise StreamError("not-well-formed", "A WebSocket message must hold complete XML elements.")
        return out

    def _push(self, data: bytes, out: list[ReaderEvent]) -> int:
        """Feed the parser; append events; return how many top-level elements completed."""
        queue = self._queue
        error: ET.ParseError | None = None
        try:
            self._parser.feed(data)
        except ET.ParseError as exc:
            error = exc  # the events before it still count: junk after the stream end is fine
        if not queue:
            if error is not None:
                raise _parse_error(error.code, data) from None
            return 0
        done = 0
        depth = self._depth
        try:
            for event, elem in queue:
                if event == "start":
                    depth += 1
                    if depth == 1:
                        out.append(self._header(elem))
                    elif depth > self.max_depth:
                        raise StreamError("policy-violation", "XML elements are nested too deeply.")
                elif event == "end":
                    depth -= 1
                    if depth == 1:
                        done += 1
                        if self._root is not None:
                            self._root.clear()
                        if self.framing == "websocket":
                            out.append(self._frame_element(elem))
                            if self._ended:
                                break
                        else:
                            out.append(TopElement(elem))
                    elif depth == 0:
                        self._ended = True
                        out.append(StreamEnd())
                        break
                elif event == "comment":
                    raise StreamError("restricted-xml", "XML comments are not allowed.")
                else:
                    raise StreamError("restricted-xml", "XML processing instructions are not allowed.")
        finally:
            self._depth = depth
            queue.clear()
        if error is not None and not self._ended:
            raise _parse_error(error.code, data) from None
        return done

    def _frame_element(self, elem: ET.Element) -> ReaderEvent:
        tag = elem.tag
        if tag == _OPEN_TAG:
            return StreamHeader(tag, dict(elem.attrib), {"": ns.FRAMING})
        if tag == _CLOSE_TAG:
            self._ended = True
            return StreamEnd()
        return TopElement(elem)

    def _header(self, root: ET.Element) -> StreamHeader:
        """Check the TCP stream header against what the prolog guard saw as written."""
        self._root = root
        seen, self._header_seen = self._header_seen, None
        assert seen is not None
        declared = {
            (k[6:] if k.startswith("xmlns:") else ""): v
            for k, v in seen.attrs.items()
            if k == "xmlns" or k.startswith("xmlns:")
        }
        _, colon, local = seen.name.rpartition(":")
        if root.tag != _STREAM_TAG:
            if local != "stream":
                raise StreamError("bad-format", "The stream must start with a stream header.")
            raise StreamError("invalid-namespace", "The stream element is not in the streams namespace.")
        if not colon:
            raise StreamError("bad-namespace-prefix", "The stream element needs a namespace prefix.")
        if declared.get("") != ns.CLIENT:
            raise StreamError("invalid-namespace", "The content namespace must be jabber:client.")
        self._pending = 0
        self._opened = True
        return StreamHeader(root.tag, dict(root.attrib), declared)
