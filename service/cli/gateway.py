"""`linli outbox`: what the home gateway holds (pending readings, dead letters)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from devices.config import ConfigError, GatewayConfig, load_config
from devices.outbox import Outbox
from service.cli.common import fail

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="The gateway's configuration file (gateway.toml).")
]


def gateway_config(path: Path) -> GatewayConfig:
    """The gateway configuration, or one line on stderr and exit 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        fail(str(exc), 2)


def outbox(
    config: ConfigOption,
    dead_letters: Annotated[
        bool, typer.Option("--dead-letters", help="List the readings the service refused.")
    ] = False,
) -> None:
    """Show how many readings wait for upload and which ones the service refused."""
    settings = gateway_config(config)
    with Outbox(settings.outbox_path, max_pending=settings.max_pending) as box:
        stats = box.stats()
        typer.echo(
            f"pending: {stats.pending} of at most {stats.max_pending}"
            f"{'  (nearly full: is the service reachable?)' if stats.nearly_full else ''}"
        )
        typer.echo(f"dead letters: {stats.dead_letters}")
        if dead_letters:
            for letter in box.dead_letters():
                when = datetime.fromtimestamp(letter.dead_at, UTC).isoformat(timespec="seconds")
                typer.echo(
                    json.dumps(
                        {"refused_at": when, "reason": letter.reason, "reading": letter.item},
                        ensure_ascii=False,
                    )
                )
