"""Versioned SQL migrations, applied once each, safe when many replicas start at once.

Files in service/migrations are named NNNN_name.sql, or NNNN_name.timescaledb.sql and
NNNN_name.postgresql.sql when a step differs between the two modes. A session-level advisory
lock serialises concurrent runs; each migration runs in its own transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from service.database import DatabaseMode, detect_mode
from service.errors import LinliError
from service.jobs import apply_job_schema

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every Linli process.
MIGRATION_LOCK_ID = 0x4C494E4C49  # "LINLI"
_FILE_NAME = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+?)(?:\.(?P<mode>timescaledb|postgresql))?\.sql$"
)


class MigrationError(LinliError):
    """The migrations on disk are inconsistent, or one failed to apply."""

    status_code = 500


@dataclass(frozen=True)
class Migration:
    """One schema version: the SQL for both modes, or one SQL text per mode."""

    version: int
    name: str
    sql_by_mode: dict[DatabaseMode | None, str] = field(default_factory=dict)

    def sql_for(self, mode: DatabaseMode) -> str:
        """The SQL to run in the given mode."""
        if None in self.sql_by_mode:
            return self.sql_by_mode[None]
        try:
            return self.sql_by_mode[mode]
        except KeyError:
            raise MigrationError(f"migration {self.version:04d} has no {mode} variant") from None


@dataclass(frozen=True)
class MigrationReport:
    """What a run of migrate() found and did."""

    mode: DatabaseMode
    applied: list[str]
    current_version: int


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the migration files, ordered by version."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name not understood: {path.name}")
        version = int(match["version"])
        mode = DatabaseMode(match["mode"]) if match["mode"] else None
        migration = found.setdefault(version, Migration(version, match["name"]))
        if migration.name != match["name"] or mode in migration.sql_by_mode:
            raise MigrationError(f"two migrations claim version {version:04d}")
        migration.sql_by_mode[mode] = path.read_text(encoding="utf-8")
    for migration in found.values():
        if None in migration.sql_by_mode and len(migration.sql_by_mode) > 1:
            raise MigrationError(f"migration {migration.version:04d} mixes shared and per-mode SQL")
        if None not in migration.sql_by_mode and len(migration.sql_by_mode) != len(DatabaseMode):
            raise MigrationError(f"migration {migration.version:04d} lacks a variant for one mode")
    return [found[v] for v in sorted(found)]


async def _enable_timescaledb(conn: psycopg.AsyncConnection[Any]) -> None:
    """Install the TimescaleDB extension when the server offers it."""
    cur = await conn.execute(
        "SELECT installed_version FROM pg_available_extensions WHERE name = 'timescaledb'"
    )
    row = await cur.fetchone()
    if row is not None and row[0] is None:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


async def applied_versions(conn: psycopg.AsyncConnection[Any]) -> set[int]:
    """Versions recorded in schema_migrations (empty when the table does not exist yet)."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if row is None or not row[0]:
        return set()
    cur = await conn.execute("SELECT version FROM schema_migrations")
    return {int(r[0]) for r in await cur.fetchall()}


async def migrate(conninfo: str, migrations: list[Migration] | None = None) -> MigrationReport:
    """Apply every pending migration; return the mode and what was applied."""
    todo = load_migrations() if migrations is None else migrations
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            # Quieten the NOTICEs of IF NOT EXISTS on every start.
            await conn.execute("SET client_min_messages = warning")
            await _enable_timescaledb(conn)
            mode = await detect_mode(conn)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       mode       text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = await applied_versions(conn)
            applied: list[str] = []
            for migration in todo:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    try:
                        await conn.execute(migration.sql_for(mode).encode())
                    except psycopg.Error as exc:
                        raise MigrationError(
                            f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                        ) from exc
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, mode) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, str(mode)),
                    )
                applied.append(f"{migration.version:04d}_{migration.name}")
            async with conn.transaction():
                if await apply_job_schema(conn):
                    applied.append("job queue (procrastinate)")
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    latest = max((m.version for m in todo), default=0)
    return MigrationReport(mode=mode, applied=applied, current_version=latest)


async def pending_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Names of migrations on disk that the database has not applied."""
    done = await applied_versions(conn)
    return [f"{m.version:04d}_{m.name}" for m in load_migrations() if m.version not in done]
