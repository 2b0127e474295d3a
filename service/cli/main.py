"""The `linli` command: serve, migrate, doctor, admin."""

from __future__ import annotations

import asyncio
import json

import typer
import uvicorn

from service.app import create_app
from service.cli import admin, analyze, ble, collect, demo, emulate, gateway, worker
from service.cli.common import (
    OneLineCommand,
    OneLineGroup,
    conninfo,
    load_settings,
    one_line_errors,
)
from service.cli.doctor import diagnose
from service.jobs import one_line_database_errors
from service.logs import configure_logging
from service.migrate import migrate as apply_migrations

app = typer.Typer(
    help="Linli (邻里): home monitoring of elderly residents with hypertension and diabetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=OneLineGroup,
)
app.add_typer(admin.app, name="admin")
app.add_typer(ble.app, name="ble")
app.command("outbox", cls=OneLineCommand)(gateway.outbox)
app.command("collect", cls=OneLineCommand)(collect.collect)
app.command("analyze", cls=OneLineCommand)(analyze.analyze)
app.command("emulate", cls=OneLineCommand)(emulate.emulate)
app.command("worker", cls=OneLineCommand)(worker.worker)
app.command("demo", cls=OneLineCommand)(demo.demo)


@app.command(cls=OneLineCommand)
@one_line_errors
def serve() -> None:
    """Run the HTTP API (LINLI_HOST:LINLI_PORT) until Ctrl-C."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    one_line_database_errors()  # a PostgreSQL restart: no storm of tracebacks
    # log_config=None: uvicorn's records go through the handler configured above.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        forwarded_allow_ips=settings.trusted_proxies,
    )


@app.command(cls=OneLineCommand)
@one_line_errors
def migrate() -> None:
    """Apply pending database migrations (safe to run from many places at once)."""
    settings = load_settings()
    with conninfo(settings) as info:
        report = asyncio.run(apply_migrations(info))
    applied = ", ".join(report.applied) if report.applied else "nothing to apply"
    typer.echo(
        f"database mode: {report.mode}; schema version {report.current_version:04d}; {applied}"
    )


@app.command(cls=OneLineCommand)
@one_line_errors
def doctor(as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Check the installation: settings, database, mode, migrations."""
    settings = load_settings()
    report = diagnose(settings)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        for key, value in report.items():
            typer.echo(f"{key:>20}: {value}")
    if not report["ok"]:
        raise typer.Exit(1)
