"""XML namespace names used by the XMPP core (RFC 6120, RFC 6121, RFC 7395, RFC 3921, XEP-0478,
XEP-0124/XEP-0206).

Only constants; every other module of `hxim.xmpp` takes its namespace names from here.
"""

from __future__ import annotations

__all__ = [
    "BIND",
    "CLIENT",
    "FRAMING",
    "HTTPBIND",
    "SASL",
    "SESSION",
    "STANZA_ERRORS",
    "STREAMS",
    "STREAM_ERRORS",
    "TLS",
    "XBOSH",
    "XML",
    "XMPP_ERRORS",
]

CLIENT = "jabber:client"
STREAMS = "http://etherx.jabber.org/streams"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"
STANZA_ERRORS = "urn:ietf:params:xml:ns:xmpp-stanzas"
TLS = "urn:ietf:params:xml:ns:xmpp-tls"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
SESSION = "urn:ietf:params:xml:ns:xmpp-session"
XML = "http://www.w3.org/XML/1998/namespace"
XMPP_ERRORS = "urn:xmpp:errors"  # XEP-0478 application conditions, e.g. <stanza-too-big/>
HTTPBIND = "http://jabber.org/protocol/httpbind"  # XEP-0124 BOSH <body/>
XBOSH = "urn:xmpp:xbosh"  # XEP-0206 attributes on <body/> (xmpp:version, xmpp:restart)
