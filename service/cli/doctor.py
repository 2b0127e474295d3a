"""`linli doctor`: what an operator checks first."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from service.database import database_conninfo
from service.errors import DatabaseUnavailable
from service.operations import database_state
from service.settings import Settings


async def _inspect(info: str) -> dict[str, Any]:
    async with await psycopg.AsyncConnection.connect(info, connect_timeout=10) as conn:
        mode, pending = await database_state(conn)
        cur = await conn.execute("SHOW server_version")
        row = await cur.fetchone()
        cur = await conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        )
        ts = await cur.fetchone()
    return {
        "database_mode": str(mode),
        "server_version": row[0] if row else None,
        "timescaledb_version": ts[0] if ts else None,
        "pending_migrations": pending,
    }


def diagnose(settings: Settings) -> dict[str, Any]:
    """A report of the installation; its 'ok' says whether Linli can serve."""
    report: dict[str, Any] = {
        "database": "embedded" if settings.embedded else "LINLI_DATABASE_URL",
        "data_dir": str(settings.data_dir),
        # Without Twilio, alert messages are written to the log instead of sent.
        "messages": "twilio" if settings.twilio_enabled else "log",
        "public_url": settings.public_url,
    }
    try:
        with database_conninfo(settings) as info:
            report.update(asyncio.run(_inspect(info)))
    except (psycopg.OperationalError, DatabaseUnavailable) as exc:
        report.update(ok=False, problem=f"database unreachable: {str(exc).strip().splitlines()[0]}")
        return report
    report["ok"] = not report["pending_migrations"]
    if report["pending_migrations"]:
        report["problem"] = "migrations pending: run `linli migrate`"
    return report
