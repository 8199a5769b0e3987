"""STARTTLS with a configured certificate (RFC 6120 §5), SASL refused before TLS, and the idle
and handshake timeouts (a server of its own: TLS required, short timeouts)."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from xmpp_helpers import DOMAIN, Client, Raw, XServer, plain_auth, run, start_xmpp_server

from conftest import Server, stop_server, unique

STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams"


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[XServer, Path]]:
    tmp = tmp_path_factory.mktemp(f"hxim-tls-{server.backend}")
    cert, key = _self_signed(tmp)
    xs, pg_name = start_xmpp_server(
        tmp,
        server.backend,
        HXIM_XMPP_TLS_CERT=str(cert),
        HXIM_XMPP_TLS_KEY=str(key),
        HXIM_XMPP_ALLOW_PLAINTEXT="false",
        HXIM_XMPP_IDLE_TIMEOUT_SECONDS="1.5",
        HXIM_XMPP_HANDSHAKE_TIMEOUT_SECONDS="3",
    )
    try:
        yield xs, cert
    finally:
        stop_server(xs.server, pg_name)


def test_starttls_login_and_chat(tls_server: tuple[XServer, Path]) -> None:
    xs, cert = tls_server
    a, b = unique("ta"), unique("tb")
    xs.api.register(a, b)
    context = ssl.create_default_context(cafile=str(cert))

    async def scenario() -> None:
        alice = Client(xs, a, mech="SCRAM-SHA-256", tls=context)
        bob = Client(xs, b, mech="PLAIN", tls=context)
        await alice.online()
        await bob.online()
        assert alice.is_connected() and bob.is_connected()
        alice.send_message(mto=xs.jid(b), mbody="over TLS", mtype="chat")
        assert (await bob.next_message())["body"] == "over TLS"
        await alice.close()
        await bob.close()

    run(scenario)


def test_sasl_before_tls_is_refused(tls_server: tuple[XServer, Path]) -> None:
    xs, _ = tls_server
    raw = Raw(xs)
    features = raw.open()
    assert "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" in features
    assert "<mechanisms" not in features
    raw.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain_auth('x', 'y')}</auth>")
    assert "<encryption-required/>" in raw.read_until(b"</failure>")
    raw.close()


def test_idle_and_handshake_timeouts(tls_server: tuple[XServer, Path]) -> None:
    xs, _ = tls_server
    idle = Raw(xs)
    idle.open()
    text, closed = idle.read_all(5)
    assert closed and f"<connection-timeout xmlns='{STREAM_ERRORS}'/>" in text, text
    # a client that keeps talking but never binds is cut after the handshake timeout
    slow = Raw(xs)
    slow.open()
    closed = False
    seen = ""
    for _ in range(12):
        try:
            slow.send(" ")  # whitespace keepalives reset the idle timer
        except OSError:  # the server closed after its error: the error was read before
            closed = True
            break
        text, closed = slow.read_all(0.5)
        seen += text
        if closed:
            break
    assert closed and f"<connection-timeout xmlns='{STREAM_ERRORS}'/>" in seen, seen
