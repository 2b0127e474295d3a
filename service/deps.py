"""Resources opened once in the lifespan, handed to routes as Annotated dependencies.

Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a thread
hop per dependency per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.auth import Gateway, UnknownToken, User, authenticate_gateway, authenticate_user
from service.errors import Forbidden
from service.metrics import Metrics
from service.settings import Settings
from service.throttle import Throttle
from service.tokens import token_hash

Caller = TypeVar("Caller", Gateway, User)

_bearer = HTTPBearer(auto_error=False, description="A gateway (lgw_...) or user (lus_...) token.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_pool(request: Request) -> AsyncConnectionPool:
    """The connection pool opened in the lifespan."""
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics registry."""
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def _admitted(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The request's bearer token, once its address and the token are within their limits
    (429 otherwise): checked before the look-up, so that a refused request costs no query."""
    throttle: Throttle = request.app.state.throttle
    throttle.check_client(client_address(request))
    token = credentials.credentials if credentials else None
    if token:
        throttle.count_request(token_hash(token).hex())
    return token


def _count_refused(request: Request) -> None:
    throttle: Throttle = request.app.state.throttle
    throttle.refused(client_address(request))


def client_address(request: Request) -> str | None:
    """The caller's address (the one a trusted proxy names, behind LINLI_TRUSTED_PROXIES)."""
    return request.client.host if request.client else None


async def _authenticated(
    request: Request,
    pool: AsyncConnectionPool,
    credentials: HTTPAuthorizationCredentials | None,
    authenticate: Callable[[AsyncConnection[Any], str | None], Awaitable[Caller]],
) -> Caller:
    """Who the request's token belongs to; a token nobody issued counts against its address."""
    token = _admitted(request, credentials)
    try:
        async with pool.connection() as conn:
            return await authenticate(conn, token)
    except UnknownToken:
        _count_refused(request)
        raise


async def current_gateway(request: Request, pool: PoolDep, credentials: Credentials) -> Gateway:
    """The gateway whose token came with the request (401 otherwise; 429 past the limits)."""
    return await _authenticated(request, pool, credentials, authenticate_gateway)


async def current_user(request: Request, pool: PoolDep, credentials: Credentials) -> User:
    """The user whose token came with the request (401 otherwise; 429 past the limits)."""
    return await _authenticated(request, pool, credentials, authenticate_user)


async def current_admin(user: Annotated[User, Depends(current_user)]) -> User:
    """The calling user, who must be an admin (403 otherwise)."""
    if user.role != "admin":
        raise Forbidden("only an admin may do this")
    return user


GatewayDep = Annotated[Gateway, Depends(current_gateway)]
UserDep = Annotated[User, Depends(current_user)]
AdminDep = Annotated[User, Depends(current_admin)]


async def transaction(pool: PoolDep) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection in one transaction: committed when the route returns (before the answer
    is sent), rolled back when it raises."""
    async with pool.connection() as conn, conn.transaction():
        yield conn


Transaction = Annotated[AsyncConnection[Any], Depends(transaction, scope="function")]
