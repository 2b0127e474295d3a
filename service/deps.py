"""Resources opened once in the lifespan, handed to routes as Annotated dependencies.

Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a thread
hop per dependency per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from service.auth import Gateway, User, authenticate_gateway, authenticate_user
from service.errors import Forbidden
from service.metrics import Metrics
from service.settings import Settings

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


async def current_gateway(pool: PoolDep, credentials: Credentials) -> Gateway:
    """The gateway whose token came with the request (401 otherwise)."""
    async with pool.connection() as conn:
        return await authenticate_gateway(conn, credentials.credentials if credentials else None)


async def current_user(pool: PoolDep, credentials: Credentials) -> User:
    """The user whose token came with the request (401 otherwise)."""
    async with pool.connection() as conn:
        return await authenticate_user(conn, credentials.credentials if credentials else None)


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
