"""Listeners' passwords, hashed with Argon2id (argon2-cffi's defaults, RFC 9106's second
recommended set), never stored or logged in clear."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 256

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on sign-in)."""
    return _hasher.check_needs_rehash(stored_hash)


# Verified against when a sign-in names nobody, so an unknown name takes as long as a wrong
# password and the answer's time does not tell which names exist.
DUMMY_HASH = _hasher.hash("not anybody's password")
