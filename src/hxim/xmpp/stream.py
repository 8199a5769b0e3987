"""The client-to-server XML stream of one connection, sans-I/O (RFC 6120 §4–§8, RFC 7395, RFC 3921 §3).

`C2SStream` takes bytes (`feed`), returns events (`events_received`) and bytes to write
(`data_to_send`); it never touches a socket, a clock or a database. The same class serves a TCP
connection (`framing="tcp"`: `<stream:stream>`, STARTTLS) and a WebSocket one
(`framing="websocket"`: `<open/>`/`<close/>`, one element per message; TLS comes from wss).

The stream negotiates on its own: stream headers and features, STARTTLS (`<proceed/>`, then the
transport runs the handshake), SASL (PLAIN, SCRAM-SHA-1, SCRAM-SHA-256, see `hxim.xmpp.sasl`),
restarts, resource binding and the legacy session IQ. Where a decision needs the database it
emits an event and waits for the driver to call back: `AuthRequested` → `accept()`/`reject()`,
`CredentialsRequested` → `provide_credentials()`, `BindRequested` → `bind_ok()`/`bind_error()`.
Once bound it hands over `StanzaReceived` events with `from` stamped to the client's full JID,
answering by itself only what belongs to the stream: malformed addresses (`jid-malformed`),
malformed IQs (`bad-request`), the session IQ and a second bind. Protocol violations end the
stream with the RFC 6120 §4.9.3 condition: `not-authorized` for stanzas before authentication
or binding, `unsupported-stanza-type` for unknown top-level elements, the reader's conditions
for bad XML. The driver can end it too: `close(condition, text)` (idle timeout, flood,
`conflict` when a newer session replaces this one, shutdown).

Output is a list of byte strings, one per XML unit; for WebSocket each is one text message (the
Web IM SDK needs `<open/>` in a message of its own, and prefixes declared in every message).
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Collection, Sequence
from typing import Final, Literal

from hxim.model import Credentials
from hxim.xmpp import namespaces as ns
from hxim.xmpp import sasl
from hxim.xmpp.errors import InvalidState, SaslError, StanzaError, StreamError
from hxim.xmpp.events import (
    Authenticated,
    AuthFailed,
    AuthRequested,
    BindRequested,
    Bound,
    CredentialsRequested,
    Event,
    NonzaReceived,
    StanzaKind,
    StanzaReceived,
    StartTLS,
    StreamClosed,
    StreamOpened,
)
from hxim.xmpp.frames import (
    render_close,
    render_features,
    render_header,
    render_stream_error,
    sasl_element,
    stream_id,
)
from hxim.xmpp.jid import JID, InvalidJID
from hxim.xmpp.reader import Framing, ReaderEvent, StreamEnd, StreamHeader, StreamReader, TopElement
from hxim.xmpp.stanza import check_stanza, error_reply, escape_text, serialize
from hxim.xmpp.states import TRANSITIONS, State

__all__ = ["C2SStream", "FromPolicy"]

FromPolicy = Literal["reject", "stamp"]


_CLIENT = "{" + ns.CLIENT + "}"
_KINDS: Final[dict[str, StanzaKind]] = {
    _CLIENT + "message": "message",
    _CLIENT + "presence": "presence",
    _CLIENT + "iq": "iq",
}
_STANZA_NAMES = frozenset({"message", "presence", "iq"})
_TLS = "{" + ns.TLS + "}"
_SASL = "{" + ns.SASL + "}"
_BIND_TAG = "{" + ns.BIND + "}bind"
_RESOURCE_TAG = "{" + ns.BIND + "}resource"
_SESSION_TAG = "{" + ns.SESSION + "}session"


class C2SStream:
    """One client-to-server stream. See the module docstring; the driver loop is:

    feed(bytes) → for each of events_received(): act (maybe calling back) → write data_to_send().
    """

    def __init__(
        self,
        domain: str,
        *,
        framing: Framing = "tcp",
        aliases: Collection[str] = (),
        mechanisms: Sequence[str] = ("PLAIN",),
        starttls: bool = False,
        tls_required: bool = False,
        secure: bool = False,
        offer_session: bool = True,
        extra_features: Sequence[ET.Element] = (),
        extra_namespaces: Collection[str] = (),
        from_policy: FromPolicy = "reject",
        max_stanza_bytes: int = 256 * 1024,
        max_depth: int = 64,
        max_auth_attempts: int = 3,
        max_queued: int = 16,
        scram_secret: bytes | None = None,
        scram_iterations: int = 4096,
        lang: str = "en",
    ) -> None:
        """
        `domain` (and `aliases`) are the hosts this stream serves (the header's `to`). `mechanisms`
        are the SASL mechanisms to offer, in order (see `sasl.MECHANISMS`; offer only PLAIN to the
        Web IM SDK, webim-xmpp.md §3.2). `starttls` offers STARTTLS on a TCP connection that is
        not `secure` yet (direct TLS and wss are `secure`); `tls_required` refuses SASL before
        TLS. `extra_features` are added to the post-authentication features; top-level elements
        in `extra_namespaces` are handed over as `NonzaReceived` once bound. `from_policy`
        decides what happens to a stanza whose `from` is not the client's own JID: "reject" (the
        `invalid-from` stream error, RFC 6120 §8.1.2.1) or "stamp" (overwrite it; the
        compatibility choice of webim-xmpp.md §3.10). `scram_secret` and `scram_iterations`
        shape the simulated SCRAM credentials of unknown users.
        """
        for name in mechanisms:
            if name not in sasl.MECHANISMS:
                raise ValueError(f"unsupported SASL mechanism {name!r}")
        if framing == "websocket" and (starttls or tls_required):
            raise ValueError("STARTTLS is not used over WebSocket (RFC 7395 §3.1)")
        if max_auth_attempts < 1:
            raise ValueError("max_auth_attempts must be at least 1")
        self.framing: Framing = framing
        self.domain = domain
        self._hosts = {domain.lower(): domain, **{a.lower(): a for a in aliases}}
        self.mechanisms = tuple(mechanisms)
        self.starttls = starttls and framing == "tcp"
        self.tls_required = tls_required
        self.secure = secure
        self.offer_session = offer_session
        self.extra_features = tuple(extra_features)
        self.extra_namespaces = frozenset(extra_namespaces)
        self.from_policy: FromPolicy = from_policy
        self.max_auth_attempts = max_auth_attempts
        self.max_queued = max_queued
        self.lang = lang
        self._scram_secret = scram_secret
        self._scram_iterations = scram_iterations
        self._reader = StreamReader(framing, max_stanza_bytes=max_stanza_bytes, max_depth=max_depth)

        self.state = State.AWAIT_OPEN
        self.stream_id = ""
        self.client_lang: str | None = None
        self.jid: JID | None = None  # the bare JID once authenticated, the full JID once bound
        self._jid_text = ""  # str(self.jid) once bound
        self.authenticated = False
        self.auth_failures = 0
        self._streams_opened = 0
        self._header_sent = False
        self._generation = 0  # incremented on each reader reset: stale events are dropped
        self._mech: sasl.ServerMechanism | None = None
        self._scram_jid: JID | None = None
        self._auth_username: str | None = None
        self._waiting: Literal["auth", "credentials", "bind"] | None = None
        self._bind_iq: ET.Element | None = None
        self._bind_jid: JID | None = None
        self._queue: deque[ReaderEvent] = deque()
        self._events: list[Event] = []
        self._out: list[bytes] = []

    # --- the driver's side ------------------------------------------------------------------------
    def feed(self, data: bytes | str) -> None:
        """Bytes received (TCP: any chunk; WebSocket: one text message)."""
        if self.state in (State.CLOSED, State.TLS_PENDING):
            return  # after <proceed/>, plain text must never reach the new stream
        try:
            read = self._reader.feed(data)
        except StreamError as exc:
            self._fail(exc)
            return
        generation = self._generation
        for item in read:
            if self.state is State.CLOSED or generation != self._generation:
                break  # the stream restarted: what followed belonged to the old stream
            if self._waiting is not None:
                if len(self._queue) >= self.max_queued:
                    self._fail(StreamError("policy-violation", "Too much was sent before the server answered."))
                    return
                self._queue.append(item)
                continue
            self._dispatch(item)

    def events_received(self) -> list[Event]:
        """The events produced since the last call."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """The output produced since the last call: byte strings to write in order. Over TCP
        write them back to back; over WebSocket send each as one text message."""
        out, self._out = self._out, []
        return out

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    @property
    def waiting_for(self) -> str | None:
        """Which decision the stream awaits from the driver: "auth", "credentials", "bind" or None."""
        return self._waiting

    def tls_established(self) -> None:
        """The transport finished the TLS handshake that followed `StartTLS`."""
        if self.state is State.CLOSED:
            return
        if self.state is not State.TLS_PENDING:
            raise InvalidState("no STARTTLS negotiation is under way")
        self.secure = True
        self._restart(State.AWAIT_OPEN)

    def connection_lost(self) -> None:
        """The connection is gone: nothing more will be written or read."""
        self._set_state(State.CLOSED)
        self._waiting = None
        self._queue.clear()

    def close(self, condition: str | None = None, text: str | None = None) -> None:
        """End the stream: with a stream error `condition` (and a plain-words `text`) or, with
        no condition, a normal close. Idempotent."""
        if self.state is State.CLOSED:
            return
        if condition is None:
            self._close_stream(None, by_peer=False)
        else:
            self._fail(StreamError(condition, text))

    def send(self, stanza: ET.Element | bytes) -> None:
        """Queue an outgoing stanza (an element, or bytes already framed for this stream: for
        WebSocket they must declare `xmlns='jabber:client'`)."""
        if self.state is State.CLOSED:
            return
        self._out.append(stanza if isinstance(stanza, bytes) else self._serialize(stanza))

    def keepalive(self) -> None:
        """Queue a whitespace keepalive (TCP only; WebSocket uses ping frames)."""
        if self.framing == "tcp" and self.state is not State.CLOSED:
            self._out.append(b" ")

    # --- decisions ----------------------------------------------------------------------------------
    def accept(self, jid: JID) -> None:
        """Answer `AuthRequested`: the password is right; `jid` is the account's bare JID."""
        if self._check_waiting("auth"):
            self._waiting = None
            self._succeed(jid, None)
            self._drain()

    def reject(self, condition: str = "not-authorized", text: str | None = None) -> None:
        """Answer `AuthRequested` or `CredentialsRequested`: refuse with a SASL condition."""
        if self.state is State.CLOSED:
            return
        if self._waiting not in ("auth", "credentials"):
            raise InvalidState("no authentication decision is awaited")
        self._waiting = None
        self._auth_failed(SaslError(condition, text))
        self._drain()

    def provide_credentials(self, creds: Credentials | None, jid: JID | None) -> None:
        """Answer `CredentialsRequested` with the stored credentials and the account's bare JID
        (both None for an unknown user)."""
        if not self._check_waiting("credentials"):
            return
        self._waiting = None
        assert self._mech is not None
        self._scram_jid = jid if creds is not None else None
        try:
            self._sasl_step(self._mech.credentials(creds))
        except SaslError as exc:
            self._auth_failed(exc)
        self._drain()

    def bind_ok(self, jid: JID | None = None) -> None:
        """Answer `BindRequested`: bind the requested resource, or `jid` if given."""
        if not self._check_waiting("bind"):
            return
        self._waiting = None
        full = jid if jid is not None else self._bind_jid
        assert full is not None and self._bind_iq is not None
        if full.resource is None:
            raise ValueError("bind_ok() needs a full JID")
        result = ET.Element(_CLIENT + "iq", {"type": "result", "id": self._bind_iq.get("id", "")})
        ET.SubElement(ET.SubElement(result, _BIND_TAG), "{" + ns.BIND + "}jid").text = str(full)
        self._bind_iq = None
        self.jid = full
        self._jid_text = str(full)  # stamped on every stanza (RFC 6120 §8.1.2.1)
        self._set_state(State.ESTABLISHED)
        self._out.append(self._serialize(result))
        self._events.append(Bound(full))
        self._drain()

    def bind_error(self, condition: str = "conflict", text: str | None = None) -> None:
        """Answer `BindRequested` with a stanza error (`conflict`, `not-allowed`,
        `resource-constraint` …); the client may try again."""
        if not self._check_waiting("bind"):
            return
        self._waiting = None
        assert self._bind_iq is not None
        self._out.append(self._serialize(error_reply(self._bind_iq, condition, text)))
        self._bind_iq = None
        self._drain()

    # --- dispatch -----------------------------------------------------------------------------------
    def _check_waiting(self, what: str) -> bool:
        if self.state is State.CLOSED:
            return False  # the connection went away while the driver was busy: nothing to do
        if self._waiting != what:
            raise InvalidState(f"the stream is not waiting for a {what} decision")
        return True

    def _drain(self) -> None:
        generation = self._generation
        while self._queue and self._waiting is None and self.state is not State.CLOSED:
            if generation != self._generation:
                self._queue.clear()
                return
            self._dispatch(self._queue.popleft())

    def _dispatch(self, item: ReaderEvent) -> None:
        try:
            if isinstance(item, TopElement):
                self._on_element(item)
            elif isinstance(item, StreamHeader):
                self._on_header(item)
            elif isinstance(item, StreamEnd):
                self._close_stream(None, by_peer=True)
        except StreamError as exc:
            self._fail(exc)

    def _on_header(self, header: StreamHeader) -> None:
        if self.state is not State.AWAIT_OPEN:
            raise StreamError("bad-format", "The stream was opened twice.")
        self.stream_id = stream_id()
        to = header.attrs.get("to")
        host = self.domain if to is None else self._hosts.get(to.lower().rstrip("."))
        if host is not None:
            self.domain = host
        self._send_header()
        if host is None:
            raise StreamError("host-unknown", "This server does not serve that domain.")
        version = header.attrs.get("version", "")
        major, _, _minor = version.partition(".")
        if not major.isdecimal() or int(major) < 1:
            raise StreamError("unsupported-version", "XMPP version 1.0 or later is required.")
        self.client_lang = header.attrs.get("{" + ns.XML + "}lang")
        self._streams_opened += 1
        self._send_features()
        self._set_state(State.BINDING if self.authenticated else State.NEGOTIATING)
        self._events.append(StreamOpened(self.domain, self.stream_id, self.client_lang, self._streams_opened > 1))

    def _on_element(self, top: TopElement) -> None:
        el = top.element
        tag = el.tag
        state = self.state
        if state is State.ESTABLISHED:
            kind = _KINDS.get(tag)
            if kind is not None:
                self._on_stanza(kind, el)
            elif tag[:1] == "{" and tag[1 : tag.find("}")] in self.extra_namespaces:
                self._events.append(NonzaReceived(el))
            else:
                self._unexpected(tag)
        elif state is State.AWAIT_OPEN:
            raise StreamError("bad-format", "The stream must start with a stream header.")
        elif state is State.BINDING:
            if tag == _CLIENT + "iq" and el.get("type") == "set" and el.find(_BIND_TAG) is not None:
                self._on_bind(el)
            else:
                self._unexpected(tag, "Bind a resource before sending stanzas.")
        elif tag.startswith(_SASL):
            self._on_sasl(tag[len(_SASL) :], el)
        elif tag == _TLS + "starttls" and state is State.NEGOTIATING:
            self._on_starttls()
        else:
            self._unexpected(tag, "Authenticate before sending stanzas.")

    def _unexpected(self, tag: str, before: str = "") -> None:
        uri, _, name = tag[1:].partition("}") if tag[:1] == "{" else ("", "", tag)
        if name in _STANZA_NAMES:
            if uri != ns.CLIENT:
                raise StreamError("invalid-namespace", "Stanzas must be in the jabber:client namespace.")
            if before:
                raise StreamError("not-authorized", before)
        raise StreamError("unsupported-stanza-type", "That element is not supported here.")

    # --- STARTTLS (RFC 6120 §5) ---------------------------------------------------------------------
    def _on_starttls(self) -> None:
        if not self.starttls or self.secure:
            self._out.append(f"<failure xmlns='{ns.TLS}'/>".encode())
            self._close_stream(None, by_peer=False)
            return
        self._out.append(f"<proceed xmlns='{ns.TLS}'/>".encode())
        self._set_state(State.TLS_PENDING)
        self._generation += 1
        self._queue.clear()
        self._events.append(StartTLS())

    # --- SASL (RFC 6120 §6) -------------------------------------------------------------------------
    def _on_sasl(self, name: str, el: ET.Element) -> None:
        try:
            if name == "auth":
                if self.state is State.AUTHENTICATING:
                    raise SaslError("malformed-request", "Abort the current exchange first.")
                self._on_auth(el)
            elif name == "response" and self.state is State.AUTHENTICATING and self._mech is not None:
                self._sasl_step(self._mech.respond(sasl.b64decode((el.text or "").strip() or "=")))
            elif name == "abort":
                raise SaslError("aborted", None)
            else:
                raise StreamError("unsupported-stanza-type", "That SASL element was not expected.")
        except SaslError as exc:
            self._auth_failed(exc)

    def _on_auth(self, el: ET.Element) -> None:
        mechanism = el.get("mechanism", "")
        if self.tls_required and not self.secure:
            raise SaslError("encryption-required", "Use STARTTLS before authenticating.")
        if mechanism not in self.mechanisms:
            raise SaslError("invalid-mechanism", "That mechanism is not offered.")
        text = el.text
        initial = None if text is None or not text.strip() else sasl.b64decode(text.strip())
        self._mech = sasl.create(
            mechanism, simulate_secret=self._scram_secret, simulate_iterations=self._scram_iterations
        )
        self._scram_jid = None
        self._set_state(State.AUTHENTICATING)
        self._sasl_step(self._mech.start(initial))

    def _sasl_step(self, step: sasl.Step) -> None:
        mech = self._mech
        assert mech is not None
        if isinstance(step, sasl.Challenge):
            self._out.append(sasl_element("challenge", step.data))
        elif isinstance(step, sasl.PasswordCheck):
            self._waiting = "auth"
            self._auth_username = step.username
            self._events.append(AuthRequested(mech.name, step.authzid, step.username, step.password))
        elif isinstance(step, sasl.CredentialsNeeded):
            self._waiting = "credentials"
            self._auth_username = step.username
            self._events.append(CredentialsRequested(mech.name, step.username, step.authzid))
        else:
            jid = self._scram_jid
            if jid is None:  # cannot happen: simulated credentials never verify
                raise SaslError("not-authorized", "Authentication failed.")
            self._succeed(jid, step.data)

    def _succeed(self, jid: JID, data: bytes | None) -> None:
        mech = self._mech
        assert mech is not None
        self._out.append(sasl_element("success", data))
        self.jid = jid.bare
        self.authenticated = True
        self._mech = None
        self._auth_username = None
        self._events.append(Authenticated(self.jid, mech.name))
        self._restart(State.AWAIT_OPEN)

    def _auth_failed(self, exc: SaslError) -> None:
        mech = self._mech
        self._mech = None
        if self.state is State.AUTHENTICATING:
            self._set_state(State.NEGOTIATING)
        text = f"<text xml:lang='en'>{escape_text(exc.text)}</text>" if exc.text else ""
        self._out.append(f"<failure xmlns='{ns.SASL}'><{exc.condition}/>{text}</failure>".encode())
        if exc.condition != "aborted":
            self.auth_failures += 1
        username, self._auth_username = self._auth_username, None
        self._events.append(AuthFailed(mech.name if mech else None, username, exc.condition, self.auth_failures))
        if self.auth_failures >= self.max_auth_attempts:
            self._fail(StreamError("policy-violation", "Too many failed authentication attempts."))

    # --- binding (RFC 6120 §7) and the legacy session (RFC 3921 §3) --------------------------------------
    def _on_bind(self, iq: ET.Element) -> None:
        assert self.jid is not None
        node = iq.find(_BIND_TAG)
        assert node is not None
        res_el = node.find(_RESOURCE_TAG)
        requested = res_el.text if res_el is not None and res_el.text else None
        generated = requested is None
        resource = requested if requested is not None else secrets.token_hex(6)
        try:
            full = self.jid.bare.with_resource(resource)
        except InvalidJID:
            self._out.append(self._serialize(error_reply(iq, "bad-request", "That resource is not valid.")))
            return
        self._bind_iq = iq
        self._bind_jid = full
        self._waiting = "bind"
        self._events.append(BindRequested(full, resource, generated))

    # --- stanzas (RFC 6120 §8) ----------------------------------------------------------------------------
    def _on_stanza(self, kind: StanzaKind, el: ET.Element) -> None:
        full = self.jid
        assert full is not None
        sender = el.get("from")
        if sender is not None:
            claimed = JID.try_parse(sender)
            if claimed != full and claimed != full.bare and self.from_policy == "reject":
                raise StreamError("invalid-from", "The from address is not yours.")
        el.set("from", self._jid_text)
        stype = el.get("type")
        try:
            check_stanza(kind, el)
            if kind == "iq" and self._on_iq(el, stype):
                return
        except StanzaError as exc:
            if stype != "error":  # never answer an error with an error (RFC 6120 §8.3.1)
                self._out.append(self._serialize(error_reply(el, exc.condition, exc.text, type=exc.type)))
            return
        self._events.append(StanzaReceived(kind, el))

    def _on_iq(self, el: ET.Element, stype: str | None) -> bool:
        """Answer the IQs the stream owns (the legacy session, a second bind). True if answered."""
        if stype in ("get", "set"):
            child = el[0].tag
            to = el.get("to")
            if stype == "set" and (to is None or to.lower() == self.domain.lower()):
                if child == _SESSION_TAG:
                    reply = ET.Element(_CLIENT + "iq", {"type": "result", "id": el.get("id", "")})
                    if to is not None:
                        reply.set("from", to)
                    self._out.append(self._serialize(reply))
                    return True
                if child == _BIND_TAG:
                    raise StanzaError("not-allowed", "A resource is already bound.")
        return False

    # --- output -------------------------------------------------------------------------------------------
    def _serialize(self, el: ET.Element) -> bytes:
        return serialize(el, ns.CLIENT if self.framing == "tcp" else None)

    def _send_header(self) -> None:
        if self._header_sent:
            return
        self._header_sent = True
        if not self.stream_id:
            self.stream_id = stream_id()
        self._out.append(render_header(self.framing, self.domain, self.stream_id, self.lang))

    def _send_features(self) -> None:
        parts: list[str] = []
        if not self.authenticated:
            if self.starttls and not self.secure:
                required = "<required/>" if self.tls_required else ""
                parts.append(f"<starttls xmlns='{ns.TLS}'>{required}</starttls>")
            if self.secure or not self.tls_required:
                mechs = "".join(f"<mechanism>{m}</mechanism>" for m in self.mechanisms)
                parts.append(f"<mechanisms xmlns='{ns.SASL}'>{mechs}</mechanisms>")
        else:
            parts.append(f"<bind xmlns='{ns.BIND}'/>")
            if self.offer_session:
                parts.append(f"<session xmlns='{ns.SESSION}'><optional/></session>")
            parts.extend(serialize(f, None).decode() for f in self.extra_features)
        self._out.append(render_features(self.framing, parts))

    def _close_stream(self, condition: str | None, *, by_peer: bool) -> None:
        if self.state is State.CLOSED:
            return
        self._send_header()  # RFC 6120 §4.9.1.1: a header before anything, even an error
        self._out.append(render_close(self.framing))
        self._set_state(State.CLOSED)
        self._waiting = None
        self._queue.clear()
        self._events.append(StreamClosed(condition, by_peer))

    def _fail(self, exc: StreamError) -> None:
        """Send the stream error and close (RFC 6120 §4.9.1)."""
        if self.state is State.CLOSED:
            return
        self._send_header()
        self._out.append(render_stream_error(exc, self.framing))
        self._close_stream(exc.condition, by_peer=False)

    # --- state ----------------------------------------------------------------------------------------------
    def _set_state(self, new: State) -> None:
        if new is not self.state and new not in TRANSITIONS[self.state]:
            raise AssertionError(f"illegal transition {self.state.name} → {new.name}")
        self.state = new

    def _restart(self, new: State) -> None:
        """Stream restart (RFC 6120 §4.3.3): a fresh parser, a new header expected."""
        self._set_state(new)
        self._reader.reset()
        self._header_sent = False
        self._generation += 1
        self._queue.clear()
