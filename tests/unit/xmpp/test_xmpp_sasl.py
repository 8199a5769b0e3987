"""hxim.xmpp.sasl: RFC 5802 / RFC 7677 test vectors, PLAIN, SASLprep, failures."""

from __future__ import annotations

import base64

import pytest
from xmpp_testing import ScramClient

from hxim.services.passwords import derive
from hxim.xmpp import sasl
from hxim.xmpp.errors import SaslError

# RFC 5802 §5
SHA1_SALT = base64.b64decode("QSXCR+Q6sek8bf92")
SHA1_FIRST = b"n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
SHA1_SERVER_FIRST = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
SHA1_FINAL = b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
SHA1_SERVER_FINAL = b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

# RFC 7677 §3
SHA256_SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
SHA256_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SHA256_SERVER_FIRST = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
SHA256_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SHA256_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


@pytest.mark.parametrize(
    ("mech", "salt", "snonce", "first", "server_first", "final", "server_final"),
    [
        (sasl.ScramSha1, SHA1_SALT, "3rfcNHYJY1ZVvWVs7j", SHA1_FIRST, SHA1_SERVER_FIRST, SHA1_FINAL, SHA1_SERVER_FINAL),
        (
            sasl.ScramSha256,
            SHA256_SALT,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            SHA256_FIRST,
            SHA256_SERVER_FIRST,
            SHA256_FINAL,
            SHA256_SERVER_FINAL,
        ),
    ],
)
def test_rfc_vectors(
    mech: type[sasl.Scram],
    salt: bytes,
    snonce: str,
    first: bytes,
    server_first: bytes,
    final: bytes,
    server_final: bytes,
) -> None:
    m = mech(nonce=snonce)
    assert m.start(first) == sasl.CredentialsNeeded("user", None)
    assert m.credentials(derive("pencil", 4096, salt)) == sasl.Challenge(server_first)
    assert m.respond(final) == sasl.Success(server_final, "user", None)


def test_scram_wrong_proof_fails_not_authorized() -> None:
    m = sasl.ScramSha1(nonce="3rfcNHYJY1ZVvWVs7j")
    m.start(SHA1_FIRST)
    m.credentials(derive("not pencil", 4096, SHA1_SALT))
    with pytest.raises(SaslError) as err:
        m.respond(SHA1_FINAL)
    assert err.value.condition == "not-authorized"


def test_scram_unknown_user_gets_stable_normal_challenge_then_fails() -> None:
    challenges = []
    for _ in range(2):
        m = sasl.ScramSha256(simulate_secret=b"k" * 32, simulate_iterations=4096)
        m.start(b"n,,n=nobody,r=abcdef")
        step = m.credentials(None)
        assert isinstance(step, sasl.Challenge)
        challenges.append(dict(kv.split("=", 1) for kv in step.data.decode().split(",")))
        client = ScramClient("sha256", "nobody", "guess", "abcdef")
        with pytest.raises(SaslError) as err:
            m.respond(client.final(step.data))
        assert err.value.condition == "not-authorized"
    assert challenges[0]["s"] == challenges[1]["s"]  # same salt: nothing tells the user is unknown
    assert challenges[0]["i"] == "4096"
    assert len(base64.b64decode(challenges[0]["s"])) == 16
    assert challenges[0]["r"] != challenges[1]["r"]  # fresh server nonces


@pytest.mark.parametrize("hash_name", ["sha1", "sha256"])
def test_scram_round_trip_with_y_flag_and_authzid(hash_name: str) -> None:
    cls = sasl.ScramSha1 if hash_name == "sha1" else sasl.ScramSha256
    client = ScramClient(hash_name, "a,b=c", "secret", "nonce123", gs2="y,a=admin,")
    m = cls()
    assert m.start(client.first()) == sasl.CredentialsNeeded("a,b=c", "admin")
    step = m.credentials(derive("secret", 1000))
    assert isinstance(step, sasl.Challenge)
    ok = m.respond(client.final(step.data))
    assert ok == sasl.Success(b"v=" + base64.b64encode(client.server_signature), "a,b=c", "admin")


def test_scram_without_initial_response_asks_for_it() -> None:
    m = sasl.ScramSha1()
    assert m.start(None) == sasl.Challenge(b"")
    assert m.respond(b"n,,n=user,r=xyz") == sasl.CredentialsNeeded("user", None)


@pytest.mark.parametrize(
    "first",
    [
        b"p=tls-unique,,n=user,r=abc",  # channel binding asked for, not offered
        b"x,,n=user,r=abc",
        b"n,,m=ext,n=user,r=abc",  # reserved mandatory extension
        b"n,,n=us=2Xer,r=abc",  # bad escape
        b"n,,n=user",
        b"n,,r=abc,n=user",
        b"n,,n=user,r=a,b",
        b"n,,n=,r=abc",
        b"n,z=1,n=user,r=abc",
        b"n",
        b"\xff\xfe",
    ],
)
def test_scram_malformed_client_first(first: bytes) -> None:
    with pytest.raises(SaslError) as err:
        sasl.ScramSha1().start(first)
    assert err.value.condition == "malformed-request"


@pytest.mark.parametrize(
    ("final", "condition"),
    [
        (b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j", "malformed-request"),  # no proof
        (b"c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "not-authorized"),
        (b"c=biws,r=fyko+d2lbbFgONRv9qkxdawLXXX,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "not-authorized"),
        (b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=!!!", "malformed-request"),
        (b"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=AAAA", "not-authorized"),
    ],
)
def test_scram_bad_client_final(final: bytes, condition: str) -> None:
    m = sasl.ScramSha1(nonce="3rfcNHYJY1ZVvWVs7j")
    m.start(SHA1_FIRST)
    m.credentials(derive("pencil", 4096, SHA1_SALT))
    with pytest.raises(SaslError) as err:
        m.respond(final)
    assert err.value.condition == condition


def test_plain() -> None:
    m = sasl.Plain()
    step = m.start(b"easemob-demo#chatdemoui_alice@easemob.com\x00easemob-demo#chatdemoui_alice\x00$t$YWMt")
    assert step == sasl.PasswordCheck(
        "easemob-demo#chatdemoui_alice@easemob.com", "easemob-demo#chatdemoui_alice", "$t$YWMt"
    )
    assert "YWMt" not in repr(step)
    assert sasl.Plain().start(b"\x00bob\x00pw") == sasl.PasswordCheck(None, "bob", "pw")
    m = sasl.Plain()
    assert m.start(None) == sasl.Challenge(b"")
    assert m.respond(b"\x00bob\x00pw") == sasl.PasswordCheck(None, "bob", "pw")


@pytest.mark.parametrize(
    "message",
    [b"bob\x00pw", b"\x00\x00pw", b"\x00bob\x00", b"a\x00b\x00c\x00d", b"\x00b\xffob\x00pw", b"\x00\x07\x00pw"],
)
def test_plain_malformed(message: bytes) -> None:
    with pytest.raises(SaslError) as err:
        sasl.Plain().start(message)
    assert err.value.condition == "malformed-request"


def test_b64decode() -> None:
    assert sasl.b64decode("=") == b""
    assert sasl.b64decode("AGJvYgBwdw==") == b"\x00bob\x00pw"
    for bad in ("AGJvYgBwdw", "AGJv YgBwdw==", "****"):
        with pytest.raises(SaslError) as err:
            sasl.b64decode(bad)
        assert err.value.condition == "incorrect-encoding"
    assert sasl.b64encode(b"") == "="


def test_create() -> None:
    assert isinstance(sasl.create("SCRAM-SHA-256"), sasl.ScramSha256)
    with pytest.raises(SaslError) as err:
        sasl.create("DIGEST-MD5")
    assert err.value.condition == "invalid-mechanism"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("I\u00adX", "IX"), ("user", "user"), ("USER", "USER"), ("\u00aa", "a"), ("\u2168", "IX"), ("a\u00a0b", "a b")],
)
def test_saslprep(text: str, expected: str) -> None:  # RFC 4013 §3 examples
    assert sasl.saslprep(text) == expected


@pytest.mark.parametrize("text", ["\u0007", "\u0627\u0031", "a\u200eb"])
def test_saslprep_prohibited(text: str) -> None:
    with pytest.raises(ValueError):
        sasl.saslprep(text)
