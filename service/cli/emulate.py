"""`linli emulate`: emulated homes that a gateway in another process reaches over HCI, as it
reaches a USB Bluetooth dongle (`linli collect --hci tcp-client:HOST:PORT`)."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from devices.emulation import EmulatedHome
from devices.emulation.demo import emulated_homes
from devices.emulation.hci_server import BadServerSpec, CannotListen, parse_server_spec
from service.cli.collect import ZoneOption, zone_of
from service.cli.common import fail

DEFAULT_HCI = "tcp-server:127.0.0.1:9000"


async def _serve(homes: int, hci: str, records: int, interval: float, zone: ZoneInfo) -> None:
    devices = emulated_homes(homes, zone, days=records, record_interval=interval)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Before the ready line: whoever reads it may stop us right away.
    for sign in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sign, stop.set)
    async with EmulatedHome(*devices) as home:
        server = await home.serve_hci(hci)
        for device in devices:
            typer.echo(f"{device.info.address}  {device.kind:<14}  {device.name}  {device.serial}")
        typer.echo(f"ready: gateways connect with --hci {server.client_spec}")
        await stop.wait()


def emulate(
    homes: Annotated[
        int, typer.Option("--homes", min=1, help="How many homes (a monitor and a meter each).")
    ] = 1,
    hci: Annotated[
        str,
        typer.Option(
            "--hci",
            help="Where gateways reach the homes' radio: tcp-server:HOST:PORT (port 0: any).",
        ),
    ] = DEFAULT_HCI,
    records: Annotated[
        int, typer.Option("--records", min=1, help="Readings each device holds (one a day).")
    ] = 7,
    record_interval: Annotated[
        float,
        typer.Option("--record-interval", min=0.0, help="Seconds between a meter's records."),
    ] = 0.0,
    time_zone: ZoneOption = "Asia/Shanghai",
) -> None:
    """Run emulated homes until Ctrl-C, their radio served over HCI for gateways to read."""
    try:
        parse_server_spec(hci)
    except BadServerSpec as exc:
        fail(str(exc), 2)
    zone = zone_of(time_zone)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # What each emulated device does (records sent, reports cut short) is this command's news.
    logging.getLogger("devices.emulation").setLevel(logging.DEBUG)
    try:
        asyncio.run(_serve(homes, hci, records, record_interval, zone))
    except CannotListen as exc:
        fail(str(exc))
