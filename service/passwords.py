"""Password hashing with argon2 (pwdlib)."""

from __future__ import annotations

from pwdlib import PasswordHash

_hasher = PasswordHash.recommended()


def hash_password(password: str) -> str:
    """The argon2 hash to store for a password."""
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str) -> bool:
    """True when the password matches the stored hash."""
    return _hasher.verify(password, stored_hash)
