"""Gateway benchmark: records per second downloaded from an emulated meter, and peak memory.

    .venv/bin/python -m bench.gateway [--records 1000] [--json PATH]

The meter (bumble) and the collector (bleak over the bumble backend, outbox on disk) run in
one process, so the peak RSS printed covers both: the collector alone uses less. Target:
under 80 MB, so that the gateway fits a small single-board computer.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from devices.bumble_backend import virtual_radio
from devices.emulation import DeviceClock, EmulatedHome, GlucoseMeter
from devices.gateway import BleakOptions, find_health_devices
from devices.outbox import Outbox
from devices.sync import sync_device

TARGET_RSS_MB = 80
ZONE = ZoneInfo("Asia/Shanghai")


def _meter(records: int) -> GlucoseMeter:
    def local_now() -> dt.datetime:
        return dt.datetime.now(ZONE).replace(tzinfo=None)

    meter = GlucoseMeter(clock=DeviceClock(local_now))
    start = local_now() - dt.timedelta(days=records / 4)
    for number in range(records):
        meter.add_record(
            mg_per_dl=80 + number % 120,
            taken_at=start + dt.timedelta(hours=6 * number),
            meal="fasting" if number % 4 == 0 else None,
        )
    return meter


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: VmHWM, which starts afresh at exec, where Linux has it;
    else ru_maxrss (on Linux that one keeps the parent's peak across fork and exec, so a
    gateway started by a big process would report the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass  # no /proc
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _download(records: int, outbox_path: Path) -> tuple[float, int]:
    async with EmulatedHome(_meter(records)) as home, virtual_radio(link=home.link) as radio:
        options = BleakOptions(scanner=radio.scanner_options, client=radio.client_options)
        [(device, _)] = await find_health_devices(0.3, options)
        with Outbox(outbox_path) as outbox:
            started = time.perf_counter()
            result = await sync_device(device, outbox, zone=ZONE, client_options=options.client)
            seconds = time.perf_counter() - started
        if result.error:
            raise SystemExit(f"bench.gateway: the download failed: {result.error}")
        return seconds, result.new_readings


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.gateway", description=__doc__)
    parser.add_argument("--records", type=int, default=1000, help="records in the meter (1000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="linli-bench-gw-") as scratch:
        seconds, readings = asyncio.run(_download(args.records, Path(scratch) / "outbox.sqlite3"))
    peak_mb = peak_rss_mb()
    figures = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "records": args.records,
        "readings_stored": readings,
        "seconds": round(seconds, 3),
        "records_per_second": round(readings / seconds, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "target_rss_mb": TARGET_RSS_MB,
        "python": platform.python_version(),
    }
    print(f"Linli gateway benchmark, {figures['date']}, Python {figures['python']}")
    print(f"{'records downloaded':<24}{readings:>10,}")
    print(f"{'records/s':<24}{figures['records_per_second']:>10,.0f}   ({seconds:.2f} s)")
    verdict = "met" if peak_mb < TARGET_RSS_MB else "NOT met"
    print(f"{'peak RSS (MB)':<24}{peak_mb:>10.1f}   target < {TARGET_RSS_MB}: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
