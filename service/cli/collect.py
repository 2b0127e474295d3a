"""`linli collect`: run the home gateway (system Bluetooth, a controller over HCI, or
emulated homes)."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from devices.bumble_backend import virtual_radio
from devices.bumble_backend.transport import (
    BadTransportSpec,
    HciTransportError,
    check_transport_spec,
    transport_radio,
)
from devices.config import GatewayConfig
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
HciOption = Annotated[
    str | None,
    typer.Option(
        "--hci",
        help="Drive this controller over HCI instead of the system Bluetooth, e.g. usb:0 or "
        "tcp-client:127.0.0.1:9000 (default: [bluetooth] transport of the config).",
    ),
]
ZoneOption = Annotated[str, typer.Option("--time-zone", help="Time zone of the devices' clocks.")]


def zone_of(name: str) -> ZoneInfo:
    """The time zone, or one line on stderr and exit 2."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"unknown time zone {name!r}", 2)


def hci_spec(config: GatewayConfig, config_path: Path, option: str | None) -> str | None:
    """The HCI transport to use (the option, else the config's), or one line and exit 2."""
    if option is not None:
        where, spec = "--hci", option
    elif config.hci_transport is not None:
        where, spec = f"{config_path}: [bluetooth] transport", config.hci_transport
    else:
        return None
    try:
        return check_transport_spec(spec)
    except BadTransportSpec as exc:
        fail(f"{where}: {exc}", 2)


async def _collect(
    config: GatewayConfig, hci: str | None, emulate: int, zone: ZoneInfo, rounds: int | None
) -> OutboxStats:
    stop = asyncio.Event()
    # Ctrl-C and SIGTERM (docker compose stop, systemd) end the round under way cleanly;
    # what was read is in the outbox either way.
    loop = asyncio.get_running_loop()
    for sign in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sign, stop.set)
    if hci is not None:
        async with transport_radio(hci) as radio:
            options = BleakOptions(scanner=radio.scanner_options, client=radio.client_options)
            return await radio.run_until_lost(
                run_gateway(config, zone=zone, stop=stop, options=options, rounds=rounds)
            )
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
    hci: HciOption = None,
    rounds: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many rounds (default: run on).")
    ] = None,
    time_zone: ZoneOption = "Asia/Shanghai",
) -> None:
    """Read the home's blood-pressure monitors and glucose meters and upload their readings."""
    settings = gateway_config(config)
    if emulate and hci is not None:
        fail("--emulate and --hci exclude each other", 2)
    spec = None if emulate else hci_spec(settings, config, hci)
    zone = zone_of(time_zone)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        stats = asyncio.run(_collect(settings, spec, emulate, zone, rounds))
    except BadTransportSpec as exc:
        fail(str(exc), 2)
    except HciTransportError as exc:
        fail(str(exc))
    typer.echo(f"outbox: {stats.pending} readings pending, {stats.dead_letters} dead letters")
