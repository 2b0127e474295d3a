"""`linli demo`: see the whole of Linli work within a minute of installing it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Annotated

import typer
from psycopg_pool import AsyncConnectionPool
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.cli.common import fail, load_settings, one_line_errors
from service.demo import district
from service.demo import seed as seeding
from service.demo.run import (
    DemoOptions,
    Live,
    Produced,
    check_data_dir,
    check_port,
    demo_database,
    run_live,
    stop_on_signals,
)
from service.migrate import migrate
from service.settings import Settings

MOST_RESIDENTS = 700  # the fiction range holds 1,600 numbers: two children each at most
_STAGES = {
    "people": "residents, children, doctors",
    "readings": "90 days of readings",
    "detection": "detection over the history",
}


async def _district(conninfo: str, options: DemoOptions, console: Console) -> seeding.Seeded:
    """The seeded district, seeding it first when this database has none."""
    await migrate(conninfo)
    async with AsyncConnectionPool(conninfo, min_size=1, max_size=4, open=False) as pool:
        async with pool.connection() as conn:
            found = await seeding.seeded(conn)
            other = found is None and await seeding.holds_other_data(conn)
        if found is not None:
            console.print(
                f"Reusing the demo district seeded {found.seeded_at:%Y-%m-%d %H:%M} UTC"
                f" ({found.residents} residents); --reset starts over."
            )
            return found
        if other:
            fail(
                "the database of LINLI_DATABASE_URL holds data the demo did not seed: point"
                " LINLI_DATABASE_URL at an empty database for the demo"
            )
        with Progress(
            TextColumn("{task.description:<30}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            tasks = {
                stage: progress.add_task(text, total=options.residents)
                for stage, text in _STAGES.items()
            }

            def step(stage: str, done: int, total: int) -> None:
                progress.update(tasks[stage], completed=done, total=total)

            return await seeding.seed(
                pool,
                options.residents,
                options.homes,
                options.seed,
                dt.datetime.now(dt.UTC),
                step,
            )


def _banner(console: Console, options: DemoOptions) -> Callable[[str, seeding.Seeded], None]:
    def started(url: str, found: seeding.Seeded) -> None:
        homes = ", ".join(h.name for h in found.homes) or "none"
        console.print(f"\n[bold]Linli demo running:[/bold] {url}")
        console.print(
            f"  sign in as  [bold]doctor[/bold]  the doctor of {district.doctors()[0].subdistrict}"
        )
        console.print(
            "              [bold]family[/bold]  a daughter or son of the first home's resident"
        )
        console.print("              [bold]admin[/bold]   everything, and the audit trail")
        console.print(f"  password    [bold]{district.PASSWORD}[/bold]")
        console.print(
            f"Homes measuring at {options.speed:g}x speed: {homes}. Messages to families and"
            " doctors are written below (no Twilio configured) or sent through Twilio."
        )
        if not options.headless:
            console.print("Ctrl-C stops everything.\n")

    return started


@one_line_errors
def demo(
    residents: Annotated[
        int, typer.Option(min=1, max=MOST_RESIDENTS, help="Residents of the demo district.")
    ] = 300,
    homes: Annotated[
        int, typer.Option(min=0, max=9, help="Homes emulated live (a monitor and a meter each).")
    ] = 3,
    speed: Annotated[
        float,
        typer.Option(min=1.0, help="How much faster the homes' days pass (1440: a day a minute)."),
    ] = 1440.0,
    seed: Annotated[
        int, typer.Option(help="Seed of the district (on first run or --reset).")
    ] = 2026,
    reset: Annotated[bool, typer.Option("--reset", help="Start over with a new district.")] = False,
    headless: Annotated[
        bool,
        typer.Option(
            "--headless",
            help="No key to wait for; at the end check that readings, an alert and a message"
            " were produced (exit 1 if not).",
        ),
    ] = False,
    duration: Annotated[
        float | None, typer.Option(min=1.0, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Seed a demo district once, then run the API, pages, worker and emulated homes."""
    settings: Settings = load_settings()
    options = DemoOptions(residents, homes, speed, seed, reset, headless, duration)
    check_port(settings.host, settings.port)
    check_data_dir(settings.data_dir)
    console = Console(highlight=False)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("service.demo").setLevel(logging.INFO)
    said = logging.getLogger("service.demo.homes").info
    with demo_database(settings, reset) as conninfo:
        found = asyncio.run(_district(conninfo, options, console))
        live = Live(settings, conninfo, found, options, said, _banner(console, options))

        async def main() -> Produced:
            stop = asyncio.Event()
            stop_on_signals(stop, duration)
            return await run_live(live, stop)

        produced = asyncio.run(main())
    console.print(
        f"Stopped. While it ran: {produced.readings} readings stored, {produced.alerts} alerts"
        f" opened, {produced.messages} messages sent."
    )
    if headless and (missing := produced.missing()):
        fail(f"the demo produced {', '.join(missing)} in {duration or 0:g} s")
