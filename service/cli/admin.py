"""`linli admin ...`: create communities, residents, contacts, users, gateways; assign devices;
export a resident's data.

Bad input (a missing option, a value of the wrong type, a phone that is not a valid E.164
number, a name already taken, a doctor who is not one, a resident who does not exist) ends the
command with one line on stderr and exit code 2. Changes to residents' data and exports are
audited as made at the command line.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from psycopg import AsyncConnection
from pydantic import BaseModel, ValidationError

from service.admin.communities import Community, Grid, create_community, create_grid
from service.admin.contacts import Contact, create_contact
from service.admin.devices import assign_device as assign
from service.admin.devices import list_devices
from service.admin.gateways import create_gateway, revoke_gateway
from service.admin.residents import Resident, create_resident
from service.admin.schemas import (
    CommunityCreate,
    ContactCreate,
    GridCreate,
    ResidentCreate,
    UserCreate,
)
from service.admin.users import (
    IssuedUserToken,
    UserInfo,
    create_user,
    create_user_token,
    find_user,
    grant_community,
    grant_resident,
)
from service.cli.common import (
    OneLineCommand,
    OneLineGroup,
    conninfo,
    fail,
    load_settings,
    one_line_errors,
    run_in_transaction,
)
from service.errors import Invalid
from service.privacy import export
from service.privacy.audit import COMMAND_LINE

M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])


app = typer.Typer(
    help="Administration: people, places, gateways and devices.",
    no_args_is_help=True,
    cls=OneLineGroup,
)


def command(name: str) -> Callable[[F], F]:
    """Register a command of `linli admin` whose bad input is reported in one line."""

    def register(func: F) -> F:
        app.command(name, cls=OneLineCommand)(one_line_errors(func))
        return func

    return register


def validated(model: type[M], **values: Any) -> M:
    """The model built from command-line values, or Invalid (one line, exit 2) naming the fault."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise Invalid(f"{where}: {message}" if where else message) from None


OverridesOption = Annotated[
    str | None,
    typer.Option(
        "--detection-overrides",
        metavar="JSON",
        help="Detection settings, e.g. '{\"bp_urgent_systolic\": 170}' (threshold names of"
        " analytics.thresholds); a resident's override the community's.",
    ),
]


AlertingOption = Annotated[
    str | None,
    typer.Option(
        "--alerting-overrides",
        metavar="JSON",
        help='Escalation policy settings, e.g. \'{"urgent": {"repeat_hours": 2}}\''
        " (severities and fields of service.alerting.policy).",
    ),
]


def _overrides(
    text: str | None,
    option: str = "--detection-overrides",
    example: str = '{"bp_urgent_systolic": 170}',
) -> dict[str, Any]:
    """An overrides option's JSON as an object for validation (an empty one when unset)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"{option} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise Invalid(f"{option} takes a JSON object, like {example}")
    return value


def _alerting(text: str | None) -> dict[str, Any]:
    """The --alerting-overrides JSON as an object for validation (an empty one when unset)."""
    return _overrides(text, "--alerting-overrides", '{"urgent": {"repeat_hours": 2}}')


def _overrides_note(overrides: dict[str, Any], what: str = "detection") -> str:
    """`, detection {...}` for a printed line, or nothing without overrides."""
    return f", {what} {json.dumps(overrides, ensure_ascii=False)}" if overrides else ""


@command("create-gateway")
def create_gateway_command(
    name: Annotated[str, typer.Argument(help="A name for the home.")],
) -> None:
    """Register a home gateway and print its token (shown this once only)."""

    async def work(conn: AsyncConnection[Any]) -> tuple[int, str]:
        gateway, token = await create_gateway(conn, name)
        return gateway.id, token

    gateway_id, token = run_in_transaction(load_settings(), work)
    typer.echo(f"gateway {gateway_id} created; its token (shown only now):", err=True)
    typer.echo(token)


@command("revoke-gateway")
def revoke_gateway_command(
    gateway_id: Annotated[int, typer.Argument(help="The gateway's id.")],
) -> None:
    """Revoke a gateway's token: its uploads are refused from now on."""
    gateway = run_in_transaction(load_settings(), lambda conn: revoke_gateway(conn, gateway_id))
    typer.echo(
        f"{gateway.id} gateway {gateway.name} revoked at {gateway.revoked_at:%Y-%m-%d %H:%M}"
    )


@command("assign-device")
def assign_device_command(
    serial: Annotated[str, typer.Argument(help="The device's serial number.")],
    resident_id: Annotated[int, typer.Argument(help="The resident the readings belong to.")],
    user_index: Annotated[
        int, typer.Option(min=0, max=255, help="The device user (multi-user monitors); 255 = none.")
    ] = 255,
) -> None:
    """Give a device's readings (of one device user) to a resident, including waiting ones."""
    result = run_in_transaction(
        load_settings(),
        lambda conn: assign(conn, serial, user_index, resident_id, actor=COMMAND_LINE),
    )
    typer.echo(
        f"device {serial} user {user_index} -> resident {resident_id};"
        f" {result.readings_attached} waiting readings attached"
    )


@command("list-devices")
def list_devices_command(
    unassigned: Annotated[
        bool, typer.Option("--unassigned", help="Only devices with readings of nobody yet.")
    ] = False,
) -> None:
    """List devices: id, serial, kind, model, gateway, battery, readings waiting for a resident."""
    found = run_in_transaction(
        load_settings(), lambda conn: list_devices(conn, unassigned_only=unassigned)
    )
    for d in found:
        battery = "-" if d.battery_percent is None else f"{d.battery_percent}%"
        typer.echo(
            f"{d.id}\t{d.serial}\t{d.kind}\t{d.model or '-'}\tgateway {d.gateway_id}"
            f"\tbattery {battery}\t{d.unassigned_readings} unassigned readings"
        )


@command("create-community")
def create_community_command(
    name: Annotated[str, typer.Argument(help="The community's name, e.g. 敦仁社区.")],
    name_en: Annotated[str | None, typer.Option(help="Its name in English.")] = None,
    subdistrict: Annotated[str | None, typer.Option(help="The subdistrict (街道).")] = None,
    detection_overrides: OverridesOption = None,
    alerting_overrides: AlertingOption = None,
) -> None:
    """Create a community (in 涪陵区) and print it, id first."""
    data = validated(
        CommunityCreate,
        name=name,
        name_en=name_en,
        subdistrict=subdistrict,
        detection_overrides=_overrides(detection_overrides),
        alerting_overrides=_alerting(alerting_overrides),
    )
    community: Community = run_in_transaction(
        load_settings(), lambda conn: create_community(conn, data)
    )
    english = f" ({community.name_en})" if community.name_en else ""
    typer.echo(
        f"{community.id} community {community.name}{english}, {community.district}"
        + _overrides_note(community.detection_overrides)
        + _overrides_note(community.alerting_overrides, "alerting")
    )


@command("create-grid")
def create_grid_command(
    community_id: Annotated[int, typer.Argument(help="The community's id.")],
    name: Annotated[str, typer.Argument(help="The grid's name, unique in the community.")],
) -> None:
    """Create a grid in a community and print it, id first."""
    data = validated(GridCreate, name=name)
    grid: Grid = run_in_transaction(
        load_settings(), lambda conn: create_grid(conn, community_id, data)
    )
    typer.echo(f"{grid.id} grid {grid.name} of community {grid.community_id}")


@command("create-resident")
def create_resident_command(
    name: Annotated[str, typer.Option(help="Full name.")],
    sex: Annotated[str, typer.Option(help="female or male.")],
    birth_date: Annotated[str, typer.Option(help="YYYY-MM-DD.")],
    community: Annotated[int, typer.Option(help="The community's id.")],
    grid: Annotated[int | None, typer.Option(help="A grid of that community.")] = None,
    condition: Annotated[
        list[str] | None, typer.Option(help="hypertension or diabetes; repeat for both.")
    ] = None,
    language: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    time_zone: Annotated[str, typer.Option(help="IANA time zone.")] = "Asia/Shanghai",
    detection_overrides: OverridesOption = None,
    doctor: Annotated[
        int | None, typer.Option(help="The resident's own doctor (a user id, role doctor).")
    ] = None,
) -> None:
    """Create a resident and print them, id first."""
    data = validated(
        ResidentCreate,
        name=name,
        sex=sex,
        birth_date=birth_date,
        conditions=condition or [],
        community_id=community,
        grid_id=grid,
        language=language,
        time_zone=time_zone,
        detection_overrides=_overrides(detection_overrides),
        doctor_id=doctor,
    )
    resident: Resident = run_in_transaction(
        load_settings(), lambda conn: create_resident(conn, data, actor=COMMAND_LINE)
    )
    where = f"community {resident.community_id}"
    if resident.grid_id is not None:
        where += f" grid {resident.grid_id}"
    if resident.doctor_id is not None:
        where += f", doctor {resident.doctor_id}"
    conditions = "+".join(resident.conditions) or "no conditions"
    typer.echo(
        f"{resident.id} resident {resident.name}, {resident.sex}, born {resident.birth_date},"
        f" {where}, {conditions}" + _overrides_note(resident.detection_overrides)
    )


def _quiet_hours(value: str | None) -> dict[str, str | None]:
    """`22:00-07:00` as the contact's quiet_hours_start and quiet_hours_end."""
    if value is None:
        return {"quiet_hours_start": None, "quiet_hours_end": None}
    start, dash, end = value.partition("-")
    if not dash or not start.strip() or not end.strip():
        raise Invalid(f"--quiet-hours must look like 22:00-07:00, not {value!r}")
    return {"quiet_hours_start": start.strip(), "quiet_hours_end": end.strip()}


@command("create-contact")
def create_contact_command(
    resident_id: Annotated[int, typer.Argument(help="The resident's id.")],
    name: Annotated[str, typer.Option(help="The contact's name.")],
    phone: Annotated[str, typer.Option(help="E.164, e.g. +8613800138000.")],
    kind: Annotated[str, typer.Option(help="family, neighbour or other.")],
    relationship: Annotated[str | None, typer.Option(help="e.g. daughter.")] = None,
    language: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    order: Annotated[
        int | None, typer.Option(min=1, help="Escalation order (1 first); default: last.")
    ] = None,
    quiet_hours: Annotated[
        str | None, typer.Option(help="No non-urgent messages then, e.g. 22:00-07:00.")
    ] = None,
    time_zone: Annotated[
        str | None, typer.Option(help="The contact's IANA time zone; default: the resident's.")
    ] = None,
) -> None:
    """Add a contact to a resident and print it, id first."""
    data = validated(
        ContactCreate,
        name=name,
        phone=phone,
        kind=kind,
        relationship=relationship,
        language=language,
        escalation_order=order,
        time_zone=time_zone,
        **_quiet_hours(quiet_hours),
    )
    contact: Contact = run_in_transaction(
        load_settings(), lambda conn: create_contact(conn, resident_id, data, actor=COMMAND_LINE)
    )
    typer.echo(
        f"{contact.id} contact {contact.name} {contact.phone} ({contact.kind},"
        f" order {contact.escalation_order}) of resident {contact.resident_id}"
        + (f", time zone {contact.time_zone}" if contact.time_zone else "")
    )


def _password_from_stdin() -> str:
    """The password on the first line of stdin (so it stays out of the shell history)."""
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise Invalid("--password-stdin: no password on stdin")
    return password


@command("create-user")
def create_user_command(
    username: Annotated[str, typer.Argument(help="Login name: letters, digits, _ . @ -.")],
    role: Annotated[str, typer.Option(help="doctor, admin or family.")],
    display_name: Annotated[str, typer.Option(help="The name shown to others.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a password from stdin.")
    ] = False,
    community: Annotated[
        list[int] | None, typer.Option(help="A community a doctor serves; repeatable.")
    ] = None,
    resident: Annotated[
        list[int] | None, typer.Option(help="A resident a family member follows; repeatable.")
    ] = None,
    language: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    phone: Annotated[
        str | None, typer.Option(help="E.164, e.g. +8613800138000 (doctors: SMS and calls).")
    ] = None,
    time_zone: Annotated[str, typer.Option(help="IANA time zone.")] = "Asia/Shanghai",
) -> None:
    """Create a user with their access and print them, id first."""
    password = _password_from_stdin() if password_stdin else None
    data = validated(
        UserCreate,
        username=username,
        role=role,
        display_name=display_name,
        password=password,
        language=language,
        phone=phone,
        time_zone=time_zone,
    )

    async def work(conn: AsyncConnection[Any]) -> UserInfo:
        user = await create_user(conn, data)
        for community_id in community or []:
            user = await grant_community(conn, user.id, community_id)
        for resident_id in resident or []:
            user = await grant_resident(conn, user.id, resident_id, actor=COMMAND_LINE)
        return user

    user = run_in_transaction(load_settings(), work)
    access = [f"community {c}" for c in user.community_ids]
    access += [f"resident {r}" for r in user.resident_ids]
    typer.echo(
        f"{user.id} user {user.username} ({user.role}) {user.display_name}"
        + (f" {user.phone}" if user.phone else "")
        + (f"; sees {', '.join(access)}" if access else "")
    )


@command("create-token")
def create_token_command(
    username: Annotated[str, typer.Argument(help="The user's login name.")],
) -> None:
    """Issue an API token to a user and print it (shown this once only)."""

    async def work(conn: AsyncConnection[Any]) -> tuple[UserInfo, IssuedUserToken]:
        user = await find_user(conn, username)
        return user, await create_user_token(conn, user.id)

    user, issued = run_in_transaction(load_settings(), work)
    typer.echo(
        f"token {issued.id} for user {user.username} created; the token (shown only now):",
        err=True,
    )
    typer.echo(issued.token)


@command("export-resident")
def export_resident_command(
    resident_id: Annotated[int, typer.Argument(help="The resident's id.")],
    out: Annotated[
        Path | None, typer.Option("--out", help="The file to write; default: standard output.")
    ] = None,
) -> None:
    """Write everything Linli holds about a resident as one JSON document (a copy on request,
    audited)."""
    try:
        sink = sys.stdout.buffer if out is None else out.open("wb")
    except OSError as exc:
        raise Invalid(f"cannot write {out}: {exc.strerror}") from None
    written = False
    try:
        with conninfo(load_settings()) as info:
            asyncio.run(export.write(info, resident_id, COMMAND_LINE, sink.write))
        written = True
    except OSError as exc:  # the disk filled up, or whoever read the output went away
        fail(f"resident {resident_id} not exported: {exc.strerror or exc}")
    finally:
        if out is not None:
            sink.close()
            if not written:
                out.unlink(missing_ok=True)  # no half document, nor an empty one
    if out is not None:
        typer.echo(f"resident {resident_id} exported to {out}", err=True)
