"""`linli collect`: run the home gateway (real Bluetooth, or emulated homes)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from devices.bumble_backend import virtual_radio
from devices.emulation import EmulatedHome
from devices.emulation.demo import emulated_homes
from devices.gateway import BleakOptions, run_gateway
from devices.outbox import OutboxStats
from service.cli.common import fail
from service.cli.gateway import ConfigOption, gateway_config

EmulateOption = Annotated[
    int,
    typer.Option(
        "--emulate", min=0, help="Read N emulated homes on a virtual radio instead of Bluetooth."
    ),
]
ZoneOption = Annotated[str, typer.Option("--time-zone", help="Time zone of the devices' clocks.")]


def zone_of(name: str) -> ZoneInfo:
    """The time zone, or one line on stderr and exit 2."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {name!r}", 2)


async def _collect(
    config_path: Path, emulate: int, zone: ZoneInfo, rounds: int | None
) -> OutboxStats:
    config = gateway_config(config_path)
    stop = asyncio.Event()
    if not emulate:
        return await run_gateway(config, zone=zone, stop=stop, rounds=rounds)
    async with (
        EmulatedHome(*emulated_homes(emulate, zone)) as home,
        virtual_radio(link=home.link) as radio,
    ):
        options = BleakOptions(scanner=radio.scanner_options, client=radio.client_options)
        return await run_gateway(config, zone=zone, stop=stop, options=options, rounds=rounds)


def collect(
    config: ConfigOption,
    emulate: EmulateOption = 0,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many rounds (default: run on).")
    ] = None,
    time_zone: ZoneOption = "Asia/Shanghai",
) -> None:
    """Read the home's blood-pressure monitors and glucose meters and upload their readings."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stats = asyncio.run(_collect(config, emulate, zone_of(time_zone), rounds))
    typer.echo(f"outbox: {stats.pending} readings pending, {stats.dead_letters} dead letters")
