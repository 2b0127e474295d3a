"""What every linli command shares: settings, the database, one-line errors."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import psycopg
import typer
from pydantic import ValidationError
from typer.core import TyperCommand, TyperGroup

from service.database import database_conninfo
from service.errors import LinliError
from service.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit with `code`."""
    print(f"linli: {message}", file=sys.stderr)
    raise SystemExit(code)


def load_settings() -> Settings:
    """The settings from the environment, or one clear line about what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        fail(f"bad setting LINLI_{str(first['loc'][0]).upper()}: {first['msg']}", 2)


def one_line_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn Linli and database errors into one line on stderr and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except LinliError as exc:
            fail(exc.message, 2 if exc.status_code < 500 else 1)
        except psycopg.Error as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            fail(f"database error: {detail}")

    return wrapper


@contextmanager
def conninfo(settings: Settings) -> Iterator[str]:
    """The database to use (the embedded one is started for the command's duration)."""
    with database_conninfo(settings) as info:
        yield info


@asynccontextmanager
async def transaction(info: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One connection in one transaction: committed when the block ends without error."""
    async with await psycopg.AsyncConnection.connect(info) as conn, conn.transaction():
        yield conn


def run_in_transaction(
    settings: Settings, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]
) -> T:
    """Run `work` in one transaction on the configured database."""

    async def main(info: str) -> T:
        async with transaction(info) as conn:
            return await work(conn)

    with conninfo(settings) as info:
        return asyncio.run(main(info))


class OneLineCommand(TyperCommand):
    """A command whose usage errors (missing option, bad value) are one line, exit code 2."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:
            fail(exc.format_message(), exc.exit_code)


class OneLineGroup(TyperGroup):
    """A command group whose unknown commands are one line, exit code 2."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as exc:
            fail(exc.format_message(), exc.exit_code)
