"""Password credentials as SCRAM keys (RFC 5802, RFC 7677); no password is ever stored.

For each password we keep one salt and iteration count, and StoredKey and ServerKey for both
SHA-1 and SHA-256: enough to verify a password grant here and to run SCRAM-SHA-1 and
SCRAM-SHA-256 over XMPP. A PLAIN login or a password grant runs one PBKDF2-SHA-256, which
is most of a login's CPU, so each hash takes the fastest PBKDF2 we measured for it (4,096
iterations, 2026-12-01): SHA-256 from `pycryptodome`, whose loop keeps the HMAC pads'
states and uses the CPU's SHA extensions (0.40 ms, against 0.47 ms from `cryptography` and
0.9 ms from `hashlib`), SHA-1 from `cryptography` (0.48 ms, against 0.87 ms from
`pycryptodome`). Both release the GIL while they hash, so derivations for new passwords run on
a thread pool while the event loop keeps serving (`Hasher`).

`pycryptodome`'s own `PBKDF2()` builds its HMAC objects in Python; `_pbkdf2_sha256` sets up
the same two pad states with two C calls and the first block with the standard library, then
runs the same C loop, `SHA256._pbkdf2_hmac_assist` (the module function `PBKDF2()` calls, of
the pinned version): 390 µs against 421 µs per derivation (2026-12-02). Tests check it against
`hashlib` for passwords shorter and longer than the hash's block.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from Crypto.Hash import SHA256
from Crypto.Hash.SHA256 import _pbkdf2_hmac_assist as _sha256_assist
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from hxim.model import Credentials, ScramKeys

__all__ = ["derive", "verify", "Hasher"]

SALT_BYTES = 16


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_FIRST_BLOCK = (1).to_bytes(4, "big")  # INT(1): a 32-byte key is PBKDF2's first block only


def _pbkdf2_sha256(password: bytes, salt: bytes, iterations: int) -> bytes:
    """PBKDF2-HMAC-SHA-256 with a 32-byte output (RFC 8018 §5.2, RFC 2104 for the pads)."""
    key = password if len(password) <= SHA256.block_size else hashlib.sha256(password).digest()
    key = key.ljust(SHA256.block_size, b"\0")
    first = hmac.digest(password, salt + _FIRST_BLOCK, "sha256")  # U1
    inner, outer = SHA256.new(key.translate(_IPAD)), SHA256.new(key.translate(_OPAD))
    return _sha256_assist(inner, outer, first, iterations)  # U1 xor U2 xor ... xor Ui


def _salted(hash_name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
    """SaltedPassword := Hi(password, salt, i), i.e. PBKDF2 (RFC 5802 §2.2)."""
    if hash_name == "sha256":
        return _pbkdf2_sha256(password, salt, iterations)
    algorithm = hashes.SHA1()
    return PBKDF2HMAC(algorithm, algorithm.digest_size, salt, iterations).derive(password)


def _stored_key(hash_name: str, salted: bytes) -> bytes:
    return hashlib.new(hash_name, hmac.digest(salted, b"Client Key", hash_name)).digest()


def _keys(hash_name: str, password: bytes, salt: bytes, iterations: int) -> ScramKeys:
    salted = _salted(hash_name, password, salt, iterations)
    return ScramKeys(_stored_key(hash_name, salted), hmac.digest(salted, b"Server Key", hash_name))


def normalize(password: str) -> bytes:
    """The octets SCRAM hashes. SASLprep is the identity for the ASCII and common
    Unicode passwords our clients send; we use NFKC, its core mapping (the identity on ASCII)."""
    if password.isascii():
        return password.encode("ascii")
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def derive(password: str, iterations: int, salt: bytes | None = None) -> Credentials:
    raw = normalize(password)
    salt = salt or os.urandom(SALT_BYTES)
    return Credentials(
        salt, iterations, _keys("sha1", raw, salt, iterations), _keys("sha256", raw, salt, iterations)
    )


def verify(password: str, creds: Credentials) -> bool:
    """Check a password against stored keys (SHA-256 keys; one PBKDF2 run)."""
    salted = _salted("sha256", normalize(password), creds.salt, creds.iterations)
    return hmac.compare_digest(_stored_key("sha256", salted), creds.sha256.stored_key)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Hasher:
    """Runs PBKDF2 off the event loop.

    A verification (one derivation, under a millisecond) runs on the loop itself when the process
    may use a single CPU (`taskset`, a one-CPU container): a thread would get no CPU of its own
    there, and handing the work over and back (wake-ups, context switches, the GIL) only adds to
    a login's cost (2.5 → 2.2 ms of CPU per PLAIN login, medians of 3 noisy runs, 2026-12-01). Derivations for
    new passwords (registration batches) always use the threads, so that a batch does not hold
    the loop for tens of milliseconds."""

    def __init__(self, iterations: int, threads: int) -> None:
        self.iterations = iterations
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="hxim-hash")
        self._verify_inline = _usable_cpus() == 1

    async def derive(self, password: str) -> Credentials:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, derive, password, self.iterations)

    async def derive_many(self, passwords: list[str]) -> list[Credentials]:
        return list(await asyncio.gather(*(self.derive(p) for p in passwords)))

    async def verify(self, password: str, creds: Credentials) -> bool:
        if self._verify_inline:
            return verify(password, creds)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, verify, password, creds)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
