"""Protocol errors of the XMPP core, each carrying the condition to send (RFC 6120 §4.9, §6.5, §8.3).

`StreamError` is fatal to the stream: the stream answers it with `<stream:error>` and a close.
`SaslError` fails one SASL exchange (`<failure/>`) and the client may try again. `StanzaError`
describes a stanza-level refusal that the stream or a feature module renders with
`stanza.error_reply()`. The condition names are exactly the element names the RFCs define;
the `text` is written in plain words for people and never echoes untrusted input.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SASL_CONDITIONS",
    "STANZA_CONDITIONS",
    "STREAM_CONDITIONS",
    "InvalidState",
    "SaslError",
    "StanzaError",
    "StreamError",
    "XmppError",
]

#: RFC 6120 §4.9.3.
STREAM_CONDITIONS: Final = frozenset(
    {
        "bad-format",
        "bad-namespace-prefix",
        "conflict",
        "connection-timeout",
        "host-gone",
        "host-unknown",
        "improper-addressing",
        "internal-server-error",
        "invalid-from",
        "invalid-namespace",
        "invalid-xml",
        "not-authorized",
        "not-well-formed",
        "policy-violation",
        "remote-connection-failed",
        "reset",
        "resource-constraint",
        "restricted-xml",
        "see-other-host",
        "system-shutdown",
        "undefined-condition",
        "unsupported-encoding",
        "unsupported-feature",
        "unsupported-stanza-type",
        "unsupported-version",
    }
)

#: RFC 6120 §6.5.
SASL_CONDITIONS: Final = frozenset(
    {
        "aborted",
        "account-disabled",
        "credentials-expired",
        "encryption-required",
        "incorrect-encoding",
        "invalid-authzid",
        "invalid-mechanism",
        "malformed-request",
        "mechanism-too-weak",
        "not-authorized",
        "temporary-auth-failure",
    }
)

#: RFC 6120 §8.3.3: each condition with the error `type` the RFC gives it.
STANZA_CONDITIONS: Final[dict[str, str]] = {
    "bad-request": "modify",
    "conflict": "cancel",
    "feature-not-implemented": "cancel",
    "forbidden": "auth",
    "gone": "cancel",
    "internal-server-error": "cancel",
    "item-not-found": "cancel",
    "jid-malformed": "modify",
    "not-acceptable": "modify",
    "not-allowed": "cancel",
    "not-authorized": "auth",
    "policy-violation": "modify",
    "recipient-unavailable": "wait",
    "redirect": "modify",
    "registration-required": "auth",
    "remote-server-not-found": "cancel",
    "remote-server-timeout": "wait",
    "resource-constraint": "wait",
    "service-unavailable": "cancel",
    "subscription-required": "auth",
    "undefined-condition": "cancel",
    "unexpected-request": "wait",
}


class XmppError(Exception):
    """Base of the errors below: a condition name and an optional human-readable text."""

    conditions: frozenset[str] = frozenset()

    def __init__(self, condition: str, text: str | None = None) -> None:
        if self.conditions and condition not in self.conditions:
            raise ValueError(f"unknown {type(self).__name__} condition {condition!r}")
        super().__init__(f"{condition}: {text}" if text else condition)
        self.condition = condition
        self.text = text


class StreamError(XmppError):
    """A fatal stream error (RFC 6120 §4.9). `app_condition` is an optional application-specific
    condition element name in `app_ns` (XEP-0478's `stanza-too-big`, for instance)."""

    conditions = STREAM_CONDITIONS

    def __init__(
        self,
        condition: str,
        text: str | None = None,
        *,
        app_condition: str | None = None,
        app_ns: str | None = None,
    ) -> None:
        super().__init__(condition, text)
        self.app_condition = app_condition
        self.app_ns = app_ns


class SaslError(XmppError):
    """A failed SASL exchange (RFC 6120 §6.5); rendered as `<failure/>`."""

    conditions = SASL_CONDITIONS


class StanzaError(XmppError):
    """A stanza-level error (RFC 6120 §8.3). `type` defaults to the one the RFC gives the condition."""

    conditions = frozenset(STANZA_CONDITIONS)

    def __init__(self, condition: str, text: str | None = None, *, type: str | None = None) -> None:
        super().__init__(condition, text)
        self.type = type or STANZA_CONDITIONS[condition]


class InvalidState(RuntimeError):
    """A method of the stream was called when the stream was not waiting for it (a caller bug)."""
