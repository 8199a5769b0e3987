"""JIDs (RFC 7622, the essentials) and the Easemob identities carried in them.

A `JID` keeps the strings exactly as received, so replies can echo what a client sent (the
Web IM SDK compares IQ reply addresses character for character, webim-xmpp.md §3.4), while
equality and hashing use the comparison key: the localpart case-folded, the domainpart
lower-cased, the resourcepart as is (all NFC). That approximates the PRECIS profiles of
RFC 7622 (UsernameCaseMapped, IDNA2008 lower-casing, OpaqueString) without their tables:
parsing rejects the characters RFC 7622 §3.3.1 forbids in a localpart, control characters
and whitespace anywhere but in a resource, empty parts, and parts longer than 1023 bytes.

Easemob identities (webim-xmpp.md §1.3): a user is `{org}#{app}_{username}@{domain}` (the
appkey keeps its case and its `#`; the SDK lower-cases the username), a user of the default
app may also be `{username}@{domain}`, and a group or chat room is
`{org}#{app}_{id}@conference.{domain}`. Because app names may contain `_`, splitting a node
needs the set of known appkeys; see `split_node`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Container
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "JID",
    "MAX_PART_BYTES",
    "EasemobNode",
    "InvalidJID",
    "muc_domain",
    "room_jid",
    "split_node",
    "user_jid",
    "user_node",
]

MAX_PART_BYTES = 1023

# RFC 7622 §3.3.1: never in a localpart; plus whitespace and controls (PRECIS IdentifierClass).
_BAD_LOCAL = re.compile(r"[\"&'/:<>@\s\x00-\x1f\x7f-\x9f]")
# Domains: LDH labels (and `_`, seen in the wild), or an IP literal; non-ASCII is checked below.
_BAD_DOMAIN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\"&'/<>@\\,;?#%!*+=$^`{|}~()]")
_BAD_RESOURCE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class InvalidJID(ValueError):
    """The text is not a valid JID (maps to the stanza error `jid-malformed`)."""


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _check_len(part: str, what: str) -> None:
    if not part:
        raise InvalidJID(f"empty {what}")
    if len(part) > MAX_PART_BYTES // 4 and len(part.encode("utf-8")) > MAX_PART_BYTES:
        raise InvalidJID(f"{what} longer than {MAX_PART_BYTES} bytes")


def _check_local(local: str) -> str:
    _check_len(local, "localpart")
    if _BAD_LOCAL.search(local):
        raise InvalidJID("forbidden character in localpart")
    return _nfc(local)


def _check_domain(domain: str) -> str:
    if domain.endswith("."):
        domain = domain[:-1]
    _check_len(domain, "domainpart")
    if domain.startswith("["):
        if not domain.endswith("]") or not re.fullmatch(r"\[[0-9A-Fa-f:.]+\]", domain):
            raise InvalidJID("malformed IP literal")
        return domain
    if _BAD_DOMAIN.search(domain) or ":" in domain or ".." in domain or domain.startswith("."):
        raise InvalidJID("forbidden character in domainpart")
    return _nfc(domain)


def _check_resource(resource: str) -> str:
    _check_len(resource, "resourcepart")
    if _BAD_RESOURCE.search(resource):
        raise InvalidJID("control character in resourcepart")
    return _nfc(resource)


@dataclass(frozen=True, slots=True, eq=False)
class JID:
    """An XMPP address. Build one with `JID.parse(text)` or `JID(local, domain, resource)`
    (the constructor validates too). `str(jid)` gives the address as received."""

    local: str | None
    domain: str
    resource: str | None = None

    def __post_init__(self) -> None:
        if self.local is not None:
            object.__setattr__(self, "local", _check_local(self.local))
        object.__setattr__(self, "domain", _check_domain(self.domain))
        if self.resource is not None:
            object.__setattr__(self, "resource", _check_resource(self.resource))

    @staticmethod
    def parse(text: str) -> JID:
        """Parse `[local@]domain[/resource]` (RFC 7622 §3.1: the resource starts at the first
        `/`, the localpart ends at the first `@` before it). Raises `InvalidJID`."""
        return _parse(text)

    @staticmethod
    def try_parse(text: str | None) -> JID | None:
        """`JID.parse`, or None for None or an invalid JID."""
        if text is None:
            return None
        try:
            return _parse(text)
        except InvalidJID:
            return None

    # --- views --------------------------------------------------------------------------------
    @property
    def bare(self) -> JID:
        """This JID without its resource."""
        if self.resource is None:
            return self
        return _unchecked(self.local, self.domain, None)

    @property
    def is_bare(self) -> bool:
        return self.resource is None

    @property
    def is_full(self) -> bool:
        return self.resource is not None

    def with_resource(self, resource: str | None) -> JID:
        return JID(self.local, self.domain, resource)

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        """The comparison key: (case-folded localpart, lower-cased domain, resource)."""
        return (
            None if self.local is None else self.local.casefold(),
            self.domain.lower(),
            self.resource,
        )

    @property
    def bare_key(self) -> str:
        """The bare JID in canonical form, as a string: a routing / registry key."""
        dom = self.domain.lower()
        return dom if self.local is None else f"{self.local.casefold()}@{dom}"

    # --- value behaviour -----------------------------------------------------------------------
    def __str__(self) -> str:
        text = self.domain if self.local is None else f"{self.local}@{self.domain}"
        return text if self.resource is None else f"{text}/{self.resource}"

    def __repr__(self) -> str:
        return f"JID({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JID):
            return NotImplemented
        return self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def _unchecked(local: str | None, domain: str, resource: str | None) -> JID:
    jid = object.__new__(JID)
    object.__setattr__(jid, "local", local)
    object.__setattr__(jid, "domain", domain)
    object.__setattr__(jid, "resource", resource)
    return jid


@lru_cache(maxsize=8192)
def _parse(text: str) -> JID:
    if not isinstance(text, str):
        raise InvalidJID("not a string")
    head, slash, resource = text.partition("/")
    local, at, domain = head.partition("@")
    if not at:
        local, domain = "", head
    elif not local:
        raise InvalidJID("empty localpart")
    return _unchecked(
        _check_local(local) if at else None,
        _check_domain(domain),
        _check_resource(resource) if slash else None,
    )


# --- Easemob identities --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EasemobNode:
    """A node split into its appkey (`org#app`, None for the default app) and the name after it
    (a username, or a group / chat-room id)."""

    appkey: str | None
    name: str


AppkeyLookup = Callable[[str], bool] | Container[str]


def split_node(node: str, known: AppkeyLookup | None = None) -> EasemobNode | None:
    """Split a JID node into (appkey, name).

    The rule:
    * A node without `#` belongs to the default app: `(None, node)`.
    * A node with more than one `#`, or whose name would be empty, is not an Easemob node: None.
    * Otherwise the appkey is `node[:i]` for an `_` at index `i` after the `#`. Org and app
      names may themselves contain `_`, so every such split is a candidate. With `known` (a
      set of appkeys or a predicate), the longest candidate appkey that is known wins (so if
      apps `o#a` and `o#a_b` both exist, `o#a_b_c` is user `c` of `o#a_b`); if none is known,
      the result is None. Without `known`, the first `_` after the `#` is used, which is the
      Web IM SDK's own rule (it assumes appkeys contain no `_`).

    The comparison is whatever `known` does: pass a case-insensitive predicate if appkeys are
    to match regardless of case. The name is returned as received; user names are
    case-insensitive, so lower-case it before looking the user up.
    """
    hash_at = node.find("#")
    if hash_at < 0:
        return EasemobNode(None, node) if node else None
    if node.find("#", hash_at + 1) >= 0 or hash_at == 0:
        return None
    if known is None:
        cut = node.find("_", hash_at + 2)
        if cut < 0 or cut == len(node) - 1:
            return None
        return EasemobNode(node[:cut], node[cut + 1 :])
    is_known: Callable[[str], bool] = known.__contains__ if isinstance(known, Container) else known
    cut = len(node)
    while True:
        cut = node.rfind("_", hash_at + 2, cut)
        if cut < 0:
            return None
        if cut < len(node) - 1 and is_known(node[:cut]):
            return EasemobNode(node[:cut], node[cut + 1 :])


def user_node(appkey: str | None, username: str) -> str:
    """The node of a user: `{appkey}_{username}` (username lower-cased, as the SDK does), or the
    lower-cased username alone for the default app."""
    name = username.lower()
    return name if appkey is None else f"{appkey}_{name}"


def user_jid(appkey: str | None, username: str, domain: str, resource: str | None = None) -> JID:
    return JID(user_node(appkey, username), domain, resource)


def muc_domain(domain: str) -> str:
    """The MUC service of a domain: `conference.{domain}`."""
    return f"conference.{domain}"


def room_jid(appkey: str | None, room_id: str, domain: str, nick: str | None = None) -> JID:
    """A group or chat room: `{appkey}_{id}@conference.{domain}[/nick]`."""
    node = room_id if appkey is None else f"{appkey}_{room_id}"
    return JID(node, muc_domain(domain), nick)
