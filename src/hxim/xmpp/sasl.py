"""Server-side SASL mechanisms, sans-I/O: PLAIN (RFC 4616), SCRAM-SHA-1 and SCRAM-SHA-256
(RFC 5802, RFC 7677) without channel binding, and SASLprep (RFC 4013).

A mechanism is driven step by step with the decoded SASL payloads (base64 is the stream's
business). Every step returns what must happen next, or raises `SaslError` with the RFC 6120
§6.5 condition to put in `<failure/>`:

* `Challenge(data)`: send `<challenge>` and pass the client's `<response>` to `respond()`;
* `PasswordCheck(authzid, username, password)` (PLAIN): the caller checks the password (for
  hxim, one starting `$t$` is an access token) and decides; the mechanism is then done;
* `CredentialsNeeded(username, authzid)` (SCRAM): the caller looks the user's stored
  `hxim.model.Credentials` up (asynchronously) and calls `credentials(creds or None)`, which
  returns the server-first `Challenge`. With None (no such user) the exchange carries on with
  simulated credentials derived from a secret, so the challenge looks normal and stable for
  that name and the exchange fails only at the proof: no user enumeration;
* `Success(data, username, authzid)`: the proof was right; send `<success>` with `data`.

The SCRAM server checks the GS2 header (`n` and `y` accepted; `p=` refused, since no `-PLUS`
mechanism is offered), rejects the reserved `m=` extension, decodes `=2C`/`=3D` in the
username and SASLpreps it, makes its nonce with `secrets`, and compares proofs in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from hxim.model import Credentials, ScramKeys
from hxim.xmpp.errors import SaslError

__all__ = [
    "MECHANISMS",
    "Challenge",
    "CredentialsNeeded",
    "PasswordCheck",
    "Plain",
    "Scram",
    "ScramSha1",
    "ScramSha256",
    "ServerMechanism",
    "Step",
    "Success",
    "b64decode",
    "b64encode",
    "create",
    "saslprep",
]

MAX_FIELD_BYTES = 1024  # per PLAIN field and SCRAM username (RFC 4616 says 255; tokens are longer)
MAX_NONCE_CHARS = 256


# --- SASLprep (RFC 4013) ---------------------------------------------------------------------------

_PROHIBITED = (
    stringprep.in_table_c12,
    stringprep.in_table_c21,
    stringprep.in_table_c22,
    stringprep.in_table_c3,
    stringprep.in_table_c4,
    stringprep.in_table_c5,
    stringprep.in_table_c6,
    stringprep.in_table_c7,
    stringprep.in_table_c8,
    stringprep.in_table_c9,
)


def saslprep(text: str, *, allow_unassigned: bool = False) -> str:
    """Prepare a string with SASLprep (RFC 4013). Raises ValueError for prohibited output.
    `allow_unassigned` selects the "query" profile (RFC 3454 §7) instead of "stored string"."""
    if text.isascii() and text.isprintable():
        return text  # printable ASCII maps to itself and has nothing prohibited
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c))
    norm = unicodedata.normalize("NFKC", mapped)
    if not norm:
        return norm
    for c in norm:
        if any(check(c) for check in _PROHIBITED):
            raise ValueError("prohibited character")
        if not allow_unassigned and stringprep.in_table_a1(c):
            raise ValueError("unassigned code point")
    if any(stringprep.in_table_d1(c) for c in norm):
        if any(stringprep.in_table_d2(c) for c in norm):
            raise ValueError("mixed bidirectional text")
        if not (stringprep.in_table_d1(norm[0]) and stringprep.in_table_d1(norm[-1])):
            raise ValueError("bidirectional text must start and end with RTL characters")
    return norm


def b64decode(text: str | bytes) -> bytes:
    """Strict base64 (RFC 4648 §4, padding required, no whitespace); `=` alone is empty data
    (RFC 6120 §6.4.2). Raises SaslError(incorrect-encoding)."""
    if text in ("=", b"="):
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SaslError("incorrect-encoding", "The data is not valid base64.") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii") if data else "="


# --- steps -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """PLAIN: verify `password` for `username` (the authcid, SASLprepped) and decide.
    `authzid` is the identity to act as, or None; the caller must refuse one it does not allow
    (`invalid-authzid`)."""

    authzid: str | None
    username: str
    password: str

    def __repr__(self) -> str:  # never log a password
        return f"PasswordCheck(authzid={self.authzid!r}, username={self.username!r}, password=***)"


@dataclass(frozen=True, slots=True)
class CredentialsNeeded:
    """SCRAM: look up the stored credentials of `username` and call `credentials()`."""

    username: str
    authzid: str | None


@dataclass(frozen=True, slots=True)
class Success:
    """The client proved it knows the password of `username`; `data` goes in `<success>`."""

    data: bytes | None
    username: str
    authzid: str | None


Step = Challenge | PasswordCheck | CredentialsNeeded | Success


class ServerMechanism:
    """One SASL exchange on the server side. Create a new object per `<auth/>`."""

    name: ClassVar[str] = ""

    def start(self, initial: bytes | None) -> Step:
        """Begin with the initial response (None when `<auth/>` carried none)."""
        raise NotImplementedError

    def respond(self, data: bytes) -> Step:
        """Continue with the client's `<response/>` payload."""
        raise SaslError("malformed-request", "No response was expected.")

    def credentials(self, creds: Credentials | None) -> Step:
        """Continue with the credentials asked for by `CredentialsNeeded`."""
        raise SaslError("malformed-request", "No credentials were asked for.")


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslError("malformed-request", f"The {what} is not valid UTF-8.") from None


class Plain(ServerMechanism):
    """PLAIN (RFC 4616): `[authzid] NUL authcid NUL password`."""

    name = "PLAIN"

    def __init__(self) -> None:
        self._started = False

    def start(self, initial: bytes | None) -> Step:
        self._started = True
        if initial is None:
            return Challenge(b"")  # RFC 4616 §2: an empty challenge asks for the message
        return self._parse(initial)

    def respond(self, data: bytes) -> Step:
        if not self._started:
            return super().respond(data)
        return self._parse(data)

    def _parse(self, message: bytes) -> Step:
        self._started = False
        parts = message.split(b"\x00")
        if len(parts) != 3:
            raise SaslError("malformed-request", "PLAIN needs authzid, authcid and password.")
        authzid, authcid, password = parts
        if not authcid or not password:
            raise SaslError("malformed-request", "PLAIN needs a user name and a password.")
        if max(len(authzid), len(authcid), len(password)) > MAX_FIELD_BYTES:
            raise SaslError("malformed-request", "A PLAIN field is too long.")
        try:
            username = saslprep(_utf8(authcid, "user name"), allow_unassigned=True)
        except ValueError:
            raise SaslError("malformed-request", "The user name has characters SASLprep forbids.") from None
        if not username:
            raise SaslError("malformed-request", "PLAIN needs a user name and a password.")
        return PasswordCheck(_utf8(authzid, "authzid") or None, username, _utf8(password, "password"))


# A per-process secret: simulated SCRAM salts are stable per user name within a process.
_PROCESS_SECRET = secrets.token_bytes(32)


def _decode_saslname(value: str) -> str:
    """RFC 5802 §5.1: `=2C` is `,` and `=3D` is `=`; any other `=` is an error."""
    if "=" not in value:
        return value
    out = []
    i = 0
    while i < len(value):
        c = value[i]
        if c == "=":
            code = value[i + 1 : i + 3]
            if code == "2C":
                out.append(",")
            elif code == "3D":
                out.append("=")
            else:
                raise SaslError("malformed-request", "The user name is not correctly escaped.")
            i += 3
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _valid_nonce(value: str) -> bool:
    return 0 < len(value) <= MAX_NONCE_CHARS and all(0x21 <= ord(c) <= 0x7E and c != "," for c in value)


class Scram(ServerMechanism):
    """SCRAM (RFC 5802) with `hash_name` "sha1" or "sha256", without channel binding."""

    hash_name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        simulate_secret: bytes | None = None,
        simulate_iterations: int = 4096,
        nonce: str | None = None,
    ) -> None:
        """`simulate_secret` keys the simulated salts of unknown users (defaults to a per-process
        secret; pass a configured one so salts stay stable across restarts and nodes);
        `simulate_iterations` should equal the iteration count real users have. `nonce` fixes
        the server nonce (for tests only)."""
        self._secret = simulate_secret if simulate_secret is not None else _PROCESS_SECRET
        self._sim_iterations = simulate_iterations
        self._fixed_nonce = nonce
        self._state = "start"
        self._gs2_header = b""
        self._client_first_bare = ""
        self._nonce = ""
        self._server_first = ""
        self._username = ""
        self._authzid: str | None = None
        self._keys: ScramKeys | None = None

    # --- steps ----------------------------------------------------------------------------------
    def start(self, initial: bytes | None) -> Step:
        if self._state != "start":
            raise SaslError("malformed-request", "The exchange has already started.")
        if not initial:
            self._state = "await-first"
            return Challenge(b"")
        return self._client_first(initial)

    def respond(self, data: bytes) -> Step:
        if self._state == "await-first":
            return self._client_first(data)
        if self._state == "await-final":
            return self._client_final(data)
        return super().respond(data)

    def credentials(self, creds: Credentials | None) -> Step:
        if self._state != "need-credentials":
            return super().credentials(creds)
        if creds is None:
            salt = hmac.digest(self._secret, b"salt\x00" + self._username.encode("utf-8"), "sha256")[:16]
            iterations = self._sim_iterations
            keys = ScramKeys(secrets.token_bytes(64), secrets.token_bytes(64))
        else:
            salt, iterations, keys = creds.salt, creds.iterations, creds.keys(self.hash_name)
        self._keys = keys
        self._server_first = f"r={self._nonce},s={base64.b64encode(salt).decode()},i={iterations}"
        self._state = "await-final"
        return Challenge(self._server_first.encode("ascii"))

    # --- messages -------------------------------------------------------------------------------
    def _client_first(self, data: bytes) -> Step:
        text = _utf8(data, "client-first message")
        # gs2-header: cbind-flag "," [authzid] ","
        flag, sep, rest = text.partition(",")
        if not sep:
            raise SaslError("malformed-request", "The client-first message is malformed.")
        if flag.startswith("p="):
            raise SaslError("malformed-request", "Channel binding is not supported by this mechanism.")
        if flag not in ("n", "y"):
            raise SaslError("malformed-request", "The client-first message is malformed.")
        authz, sep, bare = rest.partition(",")
        if not sep:
            raise SaslError("malformed-request", "The client-first message is malformed.")
        if authz:
            if not authz.startswith("a="):
                raise SaslError("malformed-request", "The client-first message is malformed.")
            self._authzid = _decode_saslname(authz[2:]) or None
        self._gs2_header = f"{flag},{authz},".encode()
        fields = bare.split(",")
        if fields[0].startswith("m="):
            raise SaslError("malformed-request", "SCRAM extensions are not supported.")
        if (
            len(fields) < 2
            or not fields[0].startswith("n=")
            or not fields[1].startswith("r=")
            or not all(len(f) >= 2 and f[0].isalpha() and f[1] == "=" for f in fields[2:])
        ):
            raise SaslError("malformed-request", "The client-first message is malformed.")
        raw_user = fields[0][2:]
        if len(raw_user.encode("utf-8")) > MAX_FIELD_BYTES:
            raise SaslError("malformed-request", "The user name is too long.")
        try:
            username = saslprep(_decode_saslname(raw_user), allow_unassigned=True)
        except ValueError:
            raise SaslError("malformed-request", "The user name has characters SASLprep forbids.") from None
        if not username:
            raise SaslError("malformed-request", "The user name is empty.")
        cnonce = fields[1][2:]
        if not _valid_nonce(cnonce):
            raise SaslError("malformed-request", "The client nonce is malformed.")
        self._username = username
        self._client_first_bare = bare
        self._nonce = cnonce + (self._fixed_nonce or secrets.token_urlsafe(24))
        self._state = "need-credentials"
        return CredentialsNeeded(username, self._authzid)

    def _client_final(self, data: bytes) -> Step:
        self._state = "done"
        text = _utf8(data, "client-final message")
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        fields = without_proof.split(",")
        if not sep or len(fields) < 2 or not fields[0].startswith("c=") or not fields[1].startswith("r="):
            raise SaslError("malformed-request", "The client-final message is malformed.")
        try:
            cbind = base64.b64decode(fields[0][2:], validate=True)
            proof = base64.b64decode(proof_b64, validate=True)
        except (binascii.Error, ValueError):
            raise SaslError("malformed-request", "The client-final message is malformed.") from None
        keys = self._keys
        assert keys is not None
        if not hmac.compare_digest(cbind, self._gs2_header):
            raise SaslError("not-authorized", "The channel binding data does not match.")
        if not hmac.compare_digest(fields[1][2:].encode(), self._nonce.encode()):
            raise SaslError("not-authorized", "The nonce does not match.")
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        h = self.hash_name
        signature = hmac.digest(keys.stored_key, auth_message, h)
        if len(proof) != len(signature):
            raise SaslError("not-authorized", "Authentication failed.")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.new(h, client_key).digest(), keys.stored_key):
            raise SaslError("not-authorized", "Authentication failed.")
        server_signature = hmac.digest(keys.server_key, auth_message, h)
        return Success(b"v=" + base64.b64encode(server_signature), self._username, self._authzid)


class ScramSha1(Scram):
    name = "SCRAM-SHA-1"
    hash_name = "sha1"


class ScramSha256(Scram):
    name = "SCRAM-SHA-256"
    hash_name = "sha256"


MECHANISMS: dict[str, type[ServerMechanism]] = {
    "SCRAM-SHA-256": ScramSha256,
    "SCRAM-SHA-1": ScramSha1,
    "PLAIN": Plain,
}


def create(name: str, *, simulate_secret: bytes | None = None, simulate_iterations: int = 4096) -> ServerMechanism:
    """A fresh server mechanism by its SASL name. Raises SaslError(invalid-mechanism)."""
    cls = MECHANISMS.get(name)
    if cls is None:
        raise SaslError("invalid-mechanism", "That mechanism is not offered.")
    if issubclass(cls, Scram):
        return cls(simulate_secret=simulate_secret, simulate_iterations=simulate_iterations)
    return cls()
