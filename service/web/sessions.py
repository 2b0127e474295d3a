"""Signing in to the pages: passwords (argon2), sessions kept as the SHA-256 of a random token,
and a limit on wrong passwords per name and per client (an address; an IPv6 /64)."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import class_row

from dashboards.ports import Role, Session, SignInRefused, Viewer
from service.passwords import hash_password, verify_password
from service.throttle import client_key
from service.tokens import new_token, token_hash

SESSION_PREFIX = "lws_"
SESSION_HOURS = 12
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_CLIENT = 20


@functools.cache
def _dummy_hash() -> str:
    """A hash to check against when the name is unknown, so the answer takes as long."""
    return hash_password(secrets.token_urlsafe(16))


async def _locked(conn: AsyncConnection[Any], username: str, client: str | None) -> bool:
    cur = await conn.execute(
        """SELECT count(*) FILTER (WHERE lower(username) = lower(%(name)s)),
                  count(*) FILTER (WHERE client = %(client)s)
           FROM sign_in_failures WHERE at > now() - %(window)s""",
        {"name": username, "client": client, "window": WINDOW},
    )
    row = await cur.fetchone()
    assert row is not None
    return bool(row[0] >= MAX_FAILURES_PER_NAME or row[1] >= MAX_FAILURES_PER_CLIENT)


async def sign_in(
    conn: AsyncConnection[Any], username: str, password: str, client: str | None
) -> str:
    """A new session token for the right name and password; SignInRefused otherwise."""
    if await _locked(conn, username, client_key(client)):
        raise SignInRefused(locked=True)
    cur = await conn.execute(
        """SELECT id, password_hash FROM users
           WHERE lower(username) = lower(%s) AND disabled_at IS NULL""",
        (username,),
    )
    row = await cur.fetchone()
    stored = row[1] if row is not None and row[1] else None
    try:
        ok = verify_password(password, stored or _dummy_hash()) and stored is not None
    except ValueError:
        ok = False
    if row is None or not ok:
        await conn.execute(
            "INSERT INTO sign_in_failures (username, client) VALUES (%s, %s)",
            (username, client_key(client)),
        )
        raise SignInRefused
    token = new_token(SESSION_PREFIX)
    await conn.execute(
        """INSERT INTO web_sessions (token_hash, user_id, csrf_token, client, expires_at)
           VALUES (%s, %s, %s, %s, now() + %s)""",
        (
            token_hash(token),
            row[0],
            secrets.token_urlsafe(24),
            client,
            timedelta(hours=SESSION_HOURS),
        ),
    )
    return token


@dataclass
class _SessionRow:
    id: int
    display_name: str
    role: Role
    language: str
    csrf_token: str


async def session(conn: AsyncConnection[Any], token: str) -> Session | None:
    """The live session of a token (its last use noted), or None."""
    if not token.startswith(SESSION_PREFIX):
        return None
    async with conn.cursor(row_factory=class_row(_SessionRow)) as cur:
        await cur.execute(
            """UPDATE web_sessions s SET last_seen_at = now()
               FROM users u
               WHERE s.token_hash = %s AND s.expires_at > now()
                 AND u.id = s.user_id AND u.disabled_at IS NULL
               RETURNING u.id, u.display_name, u.role, u.language, s.csrf_token""",
            (token_hash(token),),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    return Session(Viewer(row.id, row.display_name, row.role, row.language), row.csrf_token)


async def sign_out(conn: AsyncConnection[Any], token: str) -> None:
    """Forget the session."""
    await conn.execute("DELETE FROM web_sessions WHERE token_hash = %s", (token_hash(token),))


async def set_language(conn: AsyncConnection[Any], user_id: int, language: str) -> None:
    """Remember the user's language (pages and messages)."""
    await conn.execute("UPDATE users SET language = %s WHERE id = %s", (language, user_id))
