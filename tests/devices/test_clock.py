"""Reading times from device clocks that are right, drifted, reset or absent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.clock import ClockCheck, TimeSource, clock_unset, reading_time

FULING = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 16:00 in Fuling


def check(device_local: datetime) -> ClockCheck:
    return ClockCheck(device_local, NOW, FULING)


def test_a_right_clock_keeps_the_devices_time():
    ok = check(datetime(2026, 11, 26, 16, 0, 40))  # 40 s fast: within tolerance
    taken, source = reading_time(
        datetime(2026, 11, 26, 7, 30), zone=FULING, received_at=NOW, check=ok
    )
    assert (taken, source) == (datetime(2026, 11, 25, 23, 30, tzinfo=UTC), TimeSource.DEVICE)
    assert not ok.needs_setting


def test_a_drifted_clock_is_moved_back_by_its_offset():
    fast = check(datetime(2026, 11, 26, 16, 25))  # 25 minutes fast
    assert fast.offset == timedelta(minutes=25)
    assert fast.needs_setting
    taken, source = reading_time(
        datetime(2026, 11, 26, 7, 55), zone=FULING, received_at=NOW, check=fast
    )
    assert taken == datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert source == TimeSource.CORRECTED


def test_a_clock_reset_to_its_factory_date_is_corrected_from_its_offset():
    # Batteries changed six hours ago: the clock restarted at 2000-01-01 00:00.
    reset = check(datetime(2000, 1, 1, 6, 0))
    assert clock_unset(reset.device_time)
    taken, source = reading_time(
        datetime(2000, 1, 1, 5, 0), zone=FULING, received_at=NOW, check=reset
    )
    assert taken == NOW - timedelta(hours=1)
    assert source == TimeSource.CORRECTED


@pytest.mark.parametrize("device_time", [None, datetime(2000, 1, 1, 0, 5)])
def test_without_a_usable_time_the_receipt_time_is_used(device_time):
    taken, source = reading_time(device_time, zone=FULING, received_at=NOW, check=None)
    assert (taken, source) == (NOW, TimeSource.RECEIVED)


def test_without_a_clock_check_a_plausible_device_time_is_trusted():
    taken, source = reading_time(
        datetime(2026, 11, 20, 9, 0), zone=FULING, received_at=NOW, check=None
    )
    assert (taken, source) == (datetime(2026, 11, 20, 1, 0, tzinfo=UTC), TimeSource.DEVICE)
