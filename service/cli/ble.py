"""`linli ble ...`: Bluetooth tools for the gateway; `decode` turns a packet into JSON.

Bad input (hex that is not hex, an unknown characteristic, a packet its flags do not match)
ends the command with one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from devices.bumble_backend import virtual_radio
from devices.codecs import DecodeError, decode_to_dict
from devices.emulation import EmulatedHome
from devices.emulation.demo import emulated_homes
from devices.gateway import BleakOptions, find_health_devices
from service.cli.common import OneLineCommand, OneLineGroup, fail

app = typer.Typer(
    help="Bluetooth LE tools: decode packets of blood-pressure monitors and glucose meters.",
    no_args_is_help=True,
    cls=OneLineGroup,
)

_UUID16 = re.compile(r"(?:0x)?([0-9a-f]{4})", re.IGNORECASE)
# A 16-bit UUID written out on the Bluetooth base UUID.
_UUID128 = re.compile(r"0000([0-9a-f]{4})-0000-1000-8000-00805f9b34fb", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s:]+")


def parse_characteristic(text: str) -> int:
    """The 16-bit UUID of `2A35`, `0x2A35` or its 128-bit form (one-line exit 2 if not)."""
    text = text.strip()
    match = _UUID16.fullmatch(text) or _UUID128.fullmatch(text)
    if match is None:
        fail(f"bad characteristic {text!r}: expected a 16-bit UUID such as 2A35 or 0x2A35", 2)
    return int(match.group(1), 16)


def parse_hex(parts: list[str]) -> bytes:
    """The bytes of hex text with or without spaces or colons (one-line exit 2 if not hex)."""
    text = _SEPARATORS.sub("", "".join(parts))
    if text[:2].lower() == "0x":
        text = text[2:]
    if not text:
        fail("bad hex: no bytes given", 2)
    bad = re.search(r"[^0-9a-fA-F]", text)
    if bad:
        fail(f"bad hex: {bad.group()!r} is not a hex digit", 2)
    if len(text) % 2:
        fail(f"bad hex: odd number of hex digits ({len(text)})", 2)
    return bytes.fromhex(text)


@app.command(cls=OneLineCommand)
def decode(
    characteristic: Annotated[
        str, typer.Argument(help="Characteristic UUID: 2A35, 0x2A35 (case-insensitive).")
    ],
    packet: Annotated[
        list[str], typer.Argument(help="Packet bytes in hex; spaces and colons allowed.")
    ],
) -> None:
    """Decode one GATT characteristic value and print it as one JSON object."""
    uuid16 = parse_characteristic(characteristic)
    data = parse_hex(packet)
    try:
        view = decode_to_dict(uuid16, data)
    except DecodeError as exc:
        fail(str(exc), 2)
    typer.echo(json.dumps(view, ensure_ascii=False))


@app.command(cls=OneLineCommand)
def scan(
    seconds: Annotated[float, typer.Option(min=0.1, help="How long to listen.")] = 10.0,
    emulate: Annotated[
        int, typer.Option(min=0, help="List N emulated homes on a virtual radio instead.")
    ] = 0,
) -> None:
    """List blood-pressure monitors and glucose meters advertising nearby."""
    found = asyncio.run(_scan(seconds, emulate))
    if not found:
        typer.echo("no blood-pressure monitor or glucose meter found", err=True)
    for address, name in sorted(found):
        typer.echo(f"{address}  {name or '(no name)'}")


async def _scan(seconds: float, emulate: int) -> list[tuple[str, str | None]]:
    if not emulate:
        return [(d.address, n) for d, n in await find_health_devices(seconds)]
    zone = ZoneInfo("Asia/Shanghai")
    async with (
        EmulatedHome(*emulated_homes(emulate, zone, days=0)) as home,
        virtual_radio(link=home.link) as radio,
    ):
        options = BleakOptions(scanner=radio.scanner_options)
        return [(d.address, n) for d, n in await find_health_devices(seconds, options)]
