"""Versioned migrations: applied once, in order, safely from many processes at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from service.database import DatabaseMode
from service.migrate import MigrationError, load_migrations, migrate


def tables(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def recorded(conninfo: str) -> list[tuple[int, str]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(
            "SELECT version, mode FROM schema_migrations ORDER BY version"
        ).fetchall()


class TestMigrate:
    def test_fresh_database_gets_the_whole_schema(self, empty_database_url):
        report = asyncio.run(migrate(empty_database_url))
        assert report.mode == DatabaseMode.POSTGRESQL
        versions = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
        assert report.applied == [*versions, "job queue (procrastinate)"]
        assert {
            "communities",
            "grids",
            "residents",
            "contacts",
            "users",
            "gateways",
            "devices",
            "device_users",
            "blood_pressure_readings",
            "glucose_readings",
            "daily_blood_pressure",
            "daily_glucose",
            "readings_to_check",
            "detection_states",
            "findings",
            "alerts",
            "procrastinate_jobs",
        } <= tables(empty_database_url)

    def test_applied_twice_changes_nothing(self, empty_database_url):
        asyncio.run(migrate(empty_database_url))
        before = recorded(empty_database_url)
        again = asyncio.run(migrate(empty_database_url))
        assert again.applied == []
        assert recorded(empty_database_url) == before

    def test_many_replicas_starting_at_once_apply_each_migration_once(self, empty_database_url):
        with ThreadPoolExecutor(max_workers=6) as pool:
            reports = list(pool.map(lambda _: asyncio.run(migrate(empty_database_url)), range(6)))
        applied = [name for report in reports for name in report.applied]
        versions = [f"{m.version:04d}_{m.name}" for m in load_migrations()]
        assert sorted(applied) == sorted([*versions, "job queue (procrastinate)"])
        assert [v for v, _ in recorded(empty_database_url)] == [
            m.version for m in load_migrations()
        ]

    def test_a_failing_migration_leaves_nothing_half_done(self, empty_database_url, tmp_path):
        (tmp_path / "0001_good.sql").write_text("CREATE TABLE first_table (id int);")
        (tmp_path / "0002_bad.sql").write_text("CREATE TABLE second_table (id int); SELECT 1/0;")
        with pytest.raises(MigrationError, match="0002_bad failed"):
            asyncio.run(migrate(empty_database_url, load_migrations(tmp_path)))
        assert "first_table" in tables(empty_database_url)
        assert "second_table" not in tables(empty_database_url)
        assert [v for v, _ in recorded(empty_database_url)] == [1]


class TestMigrationFiles:
    def test_a_file_name_that_does_not_fit_is_refused(self, tmp_path: Path):
        (tmp_path / "1_initial.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="not understood"):
            load_migrations(tmp_path)

    def test_a_mode_specific_step_needs_both_variants(self, tmp_path: Path):
        (tmp_path / "0001_storage.timescaledb.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="lacks a variant"):
            load_migrations(tmp_path)

    def test_two_names_for_one_version_are_refused(self, tmp_path: Path):
        (tmp_path / "0001_a.sql").write_text("SELECT 1;")
        (tmp_path / "0001_b.sql").write_text("SELECT 1;")
        with pytest.raises(MigrationError, match="two migrations"):
            load_migrations(tmp_path)


def linli(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the linli command as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class TestMigrateCommand:
    def test_linli_migrate_twice(self, empty_database_url, tmp_path):
        env = {"LINLI_DATABASE_URL": empty_database_url, "LINLI_DATA_DIR": str(tmp_path)}
        first = linli("migrate", env=env)
        assert first.returncode == 0, first.stderr
        assert "database mode: postgresql" in first.stdout
        assert "0003_readings" in first.stdout
        second = linli("migrate", env=env)
        assert second.returncode == 0
        assert "nothing to apply" in second.stdout

    def test_unreachable_database_is_one_line_and_non_zero(self, tmp_path):
        env = {"LINLI_DATABASE_URL": "postgresql://linli@127.0.0.1:9/linli?connect_timeout=3"}
        result = linli("migrate", env={**env, "LINLI_DATA_DIR": str(tmp_path)})
        assert result.returncode != 0
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith("linli: ")
        assert "Traceback" not in result.stderr
