"""`linli admin ...`: create communities, residents, contacts, users, gateways; assign devices."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from psycopg import AsyncConnection

from service.admin.devices import assign_device as assign
from service.admin.gateways import create_gateway
from service.cli.common import load_settings, one_line_errors, run_in_transaction

app = typer.Typer(help="Administration: people, places, gateways and devices.", no_args_is_help=True)


@app.command("create-gateway")
@one_line_errors
def create_gateway_command(name: Annotated[str, typer.Argument(help="A name for the home.")]) -> None:
    """Register a home gateway and print its token (shown this once only)."""

    async def work(conn: AsyncConnection[Any]) -> tuple[int, str]:
        gateway, token = await create_gateway(conn, name)
        return gateway.id, token

    gateway_id, token = run_in_transaction(load_settings(), work)
    typer.echo(f"gateway {gateway_id} created; its token (shown only now):", err=True)
    typer.echo(token)


@app.command("assign-device")
@one_line_errors
def assign_device_command(
    serial: Annotated[str, typer.Argument(help="The device's serial number.")],
    resident_id: Annotated[int, typer.Argument(help="The resident the readings belong to.")],
    user_index: Annotated[
        int, typer.Option(min=0, max=255, help="The device user (multi-user monitors); 255 = none.")
    ] = 255,
) -> None:
    """Give a device's readings (of one device user) to a resident, including waiting ones."""
    result = run_in_transaction(load_settings(), lambda conn: assign(conn, serial, user_index, resident_id))
    typer.echo(
        f"device {serial} user {user_index} -> resident {resident_id};"
        f" {result.readings_attached} waiting readings attached"
    )
