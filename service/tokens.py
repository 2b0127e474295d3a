"""Bearer tokens for gateways and users: random, shown once, stored only as their SHA-256.

The tokens carry 256 random bits, so a fast hash is enough to store them safely;
passwords, which people choose, are hashed with argon2 instead (service/passwords.py).
"""

from __future__ import annotations

import hashlib
import secrets

GATEWAY_TOKEN_PREFIX = "lgw_"  # noqa: S105 - a prefix, not a secret
USER_TOKEN_PREFIX = "lus_"  # noqa: S105 - a prefix, not a secret


def new_token(prefix: str) -> str:
    """A fresh token: the prefix says what it is for, the rest is 256 random bits."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> bytes:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def bearer_token(authorization: str | None) -> str | None:
    """The token in an `Authorization: Bearer ...` header, or None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
