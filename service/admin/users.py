"""Users (doctors, admins, family members), what they may see, and their API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.rows import class_row

from service.admin.schemas import UserCreate, UserUpdate, set_clause
from service.errors import Conflict, Invalid, NotFound
from service.passwords import hash_password
from service.privacy import audit
from service.privacy.audit import SYSTEM, Actor
from service.tokens import USER_TOKEN_PREFIX, new_token, token_hash


@dataclass(frozen=True)
class UserInfo:
    """A user as admins see them (never a password hash), with the access they were granted."""

    id: int
    username: str
    display_name: str
    role: str
    language: str
    phone: str | None
    time_zone: str
    has_password: bool
    created_at: datetime
    disabled_at: datetime | None
    community_ids: list[int]
    resident_ids: list[int]


@dataclass(frozen=True)
class UserToken:
    """A user's API token as admins see it (never the token itself)."""

    id: int
    user_id: int
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class IssuedUserToken:
    """A new API token: shown this once, only its hash is kept."""

    id: int
    user_id: int
    created_at: datetime
    token: str


_SELECT_USER = sql.SQL(
    """SELECT u.id, u.username, u.display_name, u.role, u.language, u.phone, u.time_zone,
              u.password_hash IS NOT NULL AS has_password, u.created_at, u.disabled_at,
              ARRAY(SELECT c.community_id FROM user_communities c
                     WHERE c.user_id = u.id ORDER BY 1) AS community_ids,
              ARRAY(SELECT r.resident_id FROM user_residents r
                     WHERE r.user_id = u.id ORDER BY 1) AS resident_ids
       FROM users u"""
)
_TOKEN = sql.SQL("id, user_id, created_at, revoked_at, last_used_at")


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """Column values for user fields: a password becomes its argon2 hash."""
    if "password" in values:
        password = values.pop("password")
        values["password_hash"] = None if password is None else hash_password(password)
    return values


_RULES = {"users_phone_check": "phone must be in E.164 form: + then 7 to 15 digits"}


def _rule(exc: errors.CheckViolation) -> str:
    """Why the database refused a user's values."""
    rule = exc.diag.constraint_name or ""
    return _RULES.get(rule, f"user rejected by rule {rule}")


async def _select_one(conn: AsyncConnection[Any], where: sql.SQL, value: object) -> UserInfo:
    async with conn.cursor(row_factory=class_row(UserInfo)) as cur:
        await cur.execute(sql.SQL("{} WHERE {}").format(_SELECT_USER, where), (value,))
        user = await cur.fetchone()
    if user is None:
        raise NotFound(f"no user {value}")
    return user


async def get_user(conn: AsyncConnection[Any], user_id: int) -> UserInfo:
    """One user by id."""
    return await _select_one(conn, sql.SQL("u.id = %s"), user_id)


async def find_user(conn: AsyncConnection[Any], username: str) -> UserInfo:
    """One user by username (case does not matter)."""
    return await _select_one(conn, sql.SQL("lower(u.username) = lower(%s)"), username)


async def list_users(conn: AsyncConnection[Any]) -> list[UserInfo]:
    """Every user, disabled ones included, by username."""
    async with conn.cursor(row_factory=class_row(UserInfo)) as cur:
        await cur.execute(sql.SQL("{} ORDER BY lower(u.username)").format(_SELECT_USER))
        return await cur.fetchall()


async def create_user(conn: AsyncConnection[Any], data: UserCreate) -> UserInfo:
    """Add a user; usernames are unique regardless of case."""
    values = _stored(data.model_dump())
    query = sql.SQL("INSERT INTO users ({}) VALUES ({}) RETURNING id").format(
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(map(sql.Placeholder, values)),
    )
    try:
        cur = await conn.execute(query, values)
    except errors.UniqueViolation:
        raise Conflict(f"username {data.username!r} is taken") from None
    except errors.CheckViolation as exc:
        raise Invalid(_rule(exc)) from None
    row = await cur.fetchone()
    assert row is not None
    return await get_user(conn, row[0])


async def update_user(conn: AsyncConnection[Any], user_id: int, data: UserUpdate) -> UserInfo:
    """Change the fields that were set; the others stay."""
    changes = _stored(data.changes())
    if changes:
        query = sql.SQL("UPDATE users SET {} WHERE id = %(id)s").format(set_clause(changes))
        try:
            cur = await conn.execute(query, {**changes, "id": user_id})
        except errors.CheckViolation as exc:
            raise Invalid(_rule(exc)) from None
        if cur.rowcount == 0:
            raise NotFound(f"no user {user_id}")
    return await get_user(conn, user_id)


async def disable_user(conn: AsyncConnection[Any], user_id: int) -> UserInfo:
    """Disable a user: none of their tokens is accepted any more. The user stays on record."""
    cur = await conn.execute(
        "UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE id = %s", (user_id,)
    )
    if cur.rowcount == 0:
        raise NotFound(f"no user {user_id}")
    return await get_user(conn, user_id)


_ROLE_RULE = {
    "doctor": "only doctors serve communities",
    "family": "only family members follow residents",
}


async def _user_with_role(conn: AsyncConnection[Any], user_id: int, role: str) -> UserInfo:
    user = await get_user(conn, user_id)
    if user.role != role:
        raise Invalid(f"user {user.username} has role {user.role}; {_ROLE_RULE[role]}")
    return user


@dataclass(frozen=True)
class _Access:
    """One kind of access: which table grants it, to whom, and how to say it."""

    table: str
    column: str
    role: str
    target: str  # "community" or "resident"
    verb: str  # what the user does with the target


_COMMUNITY = _Access("user_communities", "community_id", "doctor", "community", "serve")
_RESIDENT = _Access("user_residents", "resident_id", "family", "resident", "follow")


async def _grant(conn: AsyncConnection[Any], access: _Access, user_id: int, target: int) -> bool:
    """Grant the access; True when the user did not have it yet."""
    await _user_with_role(conn, user_id, access.role)
    query = sql.SQL("INSERT INTO {} (user_id, {}) VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
        sql.Identifier(access.table), sql.Identifier(access.column)
    )
    try:
        cur = await conn.execute(query, (user_id, target))
    except errors.ForeignKeyViolation:
        raise NotFound(f"no {access.target} {target}") from None
    return cur.rowcount == 1


async def _revoke(conn: AsyncConnection[Any], access: _Access, user_id: int, target: int) -> None:
    query = sql.SQL("DELETE FROM {} WHERE user_id = %s AND {} = %s").format(
        sql.Identifier(access.table), sql.Identifier(access.column)
    )
    cur = await conn.execute(query, (user_id, target))
    if cur.rowcount == 0:
        user = await get_user(conn, user_id)
        raise NotFound(f"user {user.username} does not {access.verb} {access.target} {target}")


async def grant_community(conn: AsyncConnection[Any], user_id: int, community_id: int) -> UserInfo:
    """Let a doctor see the residents of a community (granting twice changes nothing)."""
    await _grant(conn, _COMMUNITY, user_id, community_id)
    return await get_user(conn, user_id)


async def revoke_community(conn: AsyncConnection[Any], user_id: int, community_id: int) -> None:
    """Stop a doctor seeing a community's residents."""
    await _revoke(conn, _COMMUNITY, user_id, community_id)


async def grant_resident(
    conn: AsyncConnection[Any], user_id: int, resident_id: int, *, actor: Actor = SYSTEM
) -> UserInfo:
    """Let a family member see a resident (granting twice changes nothing); audited."""
    if await _grant(conn, _RESIDENT, user_id, resident_id):
        await audit.record(conn, actor, "link family member", resident_id, family_user_id=user_id)
    return await get_user(conn, user_id)


async def revoke_resident(
    conn: AsyncConnection[Any], user_id: int, resident_id: int, *, actor: Actor = SYSTEM
) -> None:
    """Stop a family member seeing a resident; audited."""
    await _revoke(conn, _RESIDENT, user_id, resident_id)
    await audit.record(conn, actor, "unlink family member", resident_id, family_user_id=user_id)


async def create_user_token(conn: AsyncConnection[Any], user_id: int) -> IssuedUserToken:
    """Issue an API token to an enabled user; it is returned now and never again."""
    user = await get_user(conn, user_id)
    if user.disabled_at is not None:
        raise Invalid(f"user {user.username} is disabled")
    token = new_token(USER_TOKEN_PREFIX)
    cur = await conn.execute(
        "INSERT INTO user_tokens (user_id, token_hash) VALUES (%s, %s) RETURNING id, created_at",
        (user_id, token_hash(token)),
    )
    row = await cur.fetchone()
    assert row is not None
    return IssuedUserToken(id=row[0], user_id=user_id, created_at=row[1], token=token)


async def list_user_tokens(conn: AsyncConnection[Any], user_id: int) -> list[UserToken]:
    """A user's tokens, oldest first (revoked ones included)."""
    await get_user(conn, user_id)
    query = sql.SQL("SELECT {} FROM user_tokens WHERE user_id = %s ORDER BY id").format(_TOKEN)
    async with conn.cursor(row_factory=class_row(UserToken)) as cur:
        await cur.execute(query, (user_id,))
        return await cur.fetchall()


async def revoke_user_token(conn: AsyncConnection[Any], user_id: int, token_id: int) -> UserToken:
    """Revoke one of a user's tokens: requests with it are refused (401) from now on."""
    query = sql.SQL(
        """UPDATE user_tokens SET revoked_at = coalesce(revoked_at, now())
           WHERE id = %s AND user_id = %s RETURNING {}"""
    ).format(_TOKEN)
    async with conn.cursor(row_factory=class_row(UserToken)) as cur:
        await cur.execute(query, (token_id, user_id))
        token = await cur.fetchone()
    if token is None:
        raise NotFound(f"user {user_id} has no token {token_id}")
    return token
