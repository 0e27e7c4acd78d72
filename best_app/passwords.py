"""Passwords: argon2id hashes, computed off the event loop, and the rules a new one meets.

The parameters are argon2-cffi's default profile, RFC 9106's second recommendation
(argon2id, 3 passes over 64 MiB, 4 lanes; about 50 ms on one core). A hash made with other
parameters still verifies, and `Passwords.verify` says when it should be made again (the
login then stores the new hash). Hashing takes a thread from the default executor, and at
most `PASSWORD_HASH_CONCURRENCY` of them hash at once: a flood of logins waits its turn
instead of taking every CPU from the other requests.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
from dataclasses import dataclass
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8  # NIST SP 800-63B and ASVS 5.0 6.2.1: at least 8, no composition rules
MAX_LENGTH = 256  # ASVS 6.2.9: at least 64 allowed; the bound keeps a hash's input small
_COMMON_PASSWORDS = "common-passwords.txt.gz"  # best_app/data/README.md: source and licence


@functools.cache
def common_passwords() -> frozenset[str]:
    """The most common passwords, lowercased (read once, at first use)."""
    data = resources.files("best_app.data").joinpath(_COMMON_PASSWORDS).read_bytes()
    return frozenset(gzip.decompress(data).decode().splitlines())


def is_common(password: str) -> bool:
    return password.lower() in common_passwords()


@dataclass(frozen=True, slots=True)
class Verified:
    """The outcome of checking a password: whether it matched, and a new hash to store when
    the stored one was made with other parameters (None: keep the stored one)."""

    ok: bool
    rehashed: str | None = None


class Passwords:
    """Hash and verify passwords for one app, with a bound on concurrent hashes."""

    def __init__(self, concurrency: int, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)
        # Checked in place of the hash of a user who does not exist or has no password: the
        # same work as a real check, so the answer's timing does not tell the cases apart.
        self._dummy = self.hasher.hash("not a password anyone has")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> Verified:
        """Check `password` against `stored` (None: against a dummy hash, never a match)."""
        try:
            async with self._slots:
                await asyncio.to_thread(self.hasher.verify, stored or self._dummy, password)
        except (VerificationError, InvalidHashError):
            return Verified(ok=False)
        if stored is None:
            return Verified(ok=False)
        if self.hasher.check_needs_rehash(stored):
            return Verified(ok=True, rehashed=await self.hash(password))
        return Verified(ok=True)
