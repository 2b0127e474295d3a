"""`linli worker`: run the background jobs (detection, alerting) in a process of their own."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvloop

from service.cli.common import conninfo, load_settings, one_line_errors
from service.database import open_pool
from service.jobs import Jobs, one_line_database_errors
from service.logs import configure_logging
from service.migrate import pending_migrations
from service.settings import Settings


async def _work(info: str, settings: Settings) -> None:
    # Ctrl-C and SIGTERM (docker compose stop, systemd) stop the worker: jobs under way
    # finish. Handled here, not left to Python's KeyboardInterrupt, so that a worker started
    # with SIGINT ignored (from a background shell) still stops on it.
    main = asyncio.current_task()
    assert main is not None
    for sign in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sign, main.cancel)
    async with open_pool(info, settings) as pool, Jobs(pool, settings).opened() as jobs:
        async with pool.connection() as conn:
            waiting = await pending_migrations(conn)
        if waiting:
            missing = ", ".join(waiting)
            logging.warning("migrations not applied yet (%s): run linli migrate", missing)
        logging.info("worker ready: checking readings, firing timers, sending messages")
        await jobs.run_worker()


@one_line_errors
def worker() -> None:
    """Run the background jobs (detection, alerting) until Ctrl-C or SIGTERM; run as many
    as you like."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    one_line_database_errors()  # a PostgreSQL restart: no storm of tracebacks
    with conninfo(settings) as info:
        try:
            # uvloop, as `linli serve` runs under uvicorn: about a tenth less CPU for the
            # daily checks (docs/benchmarks.md, scheduled detection checks).
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(_work(info, settings))
        except (KeyboardInterrupt, asyncio.CancelledError):
            logging.info("worker stopped")
