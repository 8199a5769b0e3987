"""SCRAM credentials: the stored keys are those RFC 5802 / RFC 7677 define."""

import asyncio
import base64
import hashlib
import hmac
import os

import pytest

from hxim.services.passwords import Hasher, _pbkdf2_sha256, derive, verify


def test_rfc5802_sha1_vector() -> None:
    # RFC 5802 §5: user "user", password "pencil", salt QSXCR+Q6sek8bf92, 4096 iterations.
    salt = base64.b64decode("QSXCR+Q6sek8bf92")
    creds = derive("pencil", 4096, salt)
    salted = hashlib.pbkdf2_hmac("sha1", b"pencil", salt, 4096)
    client_key = hmac.digest(salted, b"Client Key", "sha1")
    assert creds.sha1.stored_key == hashlib.sha1(client_key).digest()
    # the server signature of the RFC's exchange proves ServerKey
    auth_message = (
        b"n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
        b"s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
    )
    signature = hmac.digest(creds.sha1.server_key, auth_message, "sha1")
    assert base64.b64encode(signature) == b"rmF9pqV8S7suAoZWja4dJRkFsKQ="


def test_rfc7677_sha256_vector() -> None:
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    creds = derive("pencil", 4096, salt)
    auth_message = (
        b"n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    )
    signature = hmac.digest(creds.sha256.server_key, auth_message, "sha256")
    assert base64.b64encode(signature) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


@pytest.mark.parametrize("length", [0, 1, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("iterations", [1, 2, 4096])
def test_pbkdf2_sha256_matches_hashlib(length: int, iterations: int) -> None:
    """Our PBKDF2-SHA-256 set-up around pycryptodome's loop, for passwords shorter than, as long
    as and longer than SHA-256's 64-byte block (hashed first, RFC 2104 §2)."""
    password, salt = os.urandom(length), os.urandom(16)
    assert _pbkdf2_sha256(password, salt, iterations) == hashlib.pbkdf2_hmac("sha256", password, salt, iterations)


def test_verify_accepts_only_the_password() -> None:
    creds = derive("s3cret", 4096)
    assert verify("s3cret", creds)
    assert not verify("s3cret ", creds)
    unicode = derive("ｐässwörd", 4096)  # NFKC: the fullwidth ｐ is p
    assert verify("pässwörd", unicode) and verify("ｐässwörd", unicode) and not verify("passwort", unicode)
    assert len(creds.salt) == 16 and creds.iterations == 4096


@pytest.mark.parametrize("cpus", ["one", "all"])
def test_hasher_verifies_on_one_cpu_and_on_several(cpus: str) -> None:
    """With one usable CPU a verification runs on the loop, otherwise on the hash threads: the
    same answers either way."""
    everything = os.sched_getaffinity(0)
    if cpus == "one":
        os.sched_setaffinity(0, {min(everything)})
    try:
        one_cpu = len(os.sched_getaffinity(0)) == 1
        hasher = Hasher(4096, 1)
    finally:
        os.sched_setaffinity(0, everything)
    assert hasher._verify_inline is one_cpu  # the mode taken follows the CPUs the process may use
    try:
        creds = derive("correct horse", 4096)

        async def check() -> tuple[bool, bool]:
            return await hasher.verify("correct horse", creds), await hasher.verify("wrong", creds)

        assert asyncio.run(check()) == (True, False)
    finally:
        hasher.close()
