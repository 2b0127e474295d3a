"""The gateway's SQLite outbox: durable, atomic with the download cursor, bounded, never lossy."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from devices import outbox as outbox_module
from devices.outbox import Cursor, Outbox, OutboxFull
from devices.readings import Captured
from tests.factories import blood_pressure, glucose


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "gateway" / "outbox.sqlite3"


class TestRecord:
    def test_readings_survive_reopening_the_file(self, path):
        with Outbox(path) as outbox:
            assert outbox.record([glucose(sequence=i, minutes=i) for i in range(1, 4)]) == 3
        with Outbox(path) as reopened:
            items = [p.item for p in reopened.next_batch(10)]
        assert [i["sequence_number"] for i in items] == [1, 2, 3]

    def test_a_reading_already_pending_is_not_stored_twice(self, path):
        with Outbox(path) as outbox:
            outbox.record([blood_pressure(), glucose(sequence=1)])
            assert outbox.record([blood_pressure(), glucose(sequence=1), glucose(sequence=2)]) == 1
            assert outbox.stats().pending == 3

    def test_a_record_the_device_sends_again_is_not_uploaded_again(self, path):
        # Same record, another corrected time (the clock offset was measured again).
        first = Captured(glucose(sequence=7, minutes=0), "255|7|2026-11-20T07:30:00")
        again = Captured(glucose(sequence=7, minutes=1), "255|7|2026-11-20T07:30:00")
        with Outbox(path) as outbox:
            assert outbox.record([first]) == 1
            outbox.settle([p.id for p in outbox.next_batch(10)], {})  # delivered
            assert outbox.record([again]) == 0
            assert outbox.stats().pending == 0

    def test_remembered_records_are_bounded_per_device(self, path, monkeypatch):
        monkeypatch.setattr(outbox_module, "SEEN_PER_DEVICE", 3)
        records = [Captured(glucose(sequence=i, minutes=i), f"255|{i}|t{i}") for i in range(6)]
        with Outbox(path) as outbox:
            outbox.record(records)
            outbox.settle([p.id for p in outbox.next_batch(10)], {})
            assert outbox.record(records[3:]) == 0  # the newest three are remembered
            assert outbox.record(records[:1]) == 1  # the oldest was forgotten

    def test_readings_come_out_in_order_of_measurement(self, path):
        with Outbox(path) as outbox:
            outbox.record([blood_pressure(minutes=30), glucose(sequence=9, minutes=10)])
            outbox.record([blood_pressure("BP-2", minutes=20)])
            order = [p.item["measured_at"] for p in outbox.next_batch(10)]
        assert order == sorted(order)

    def test_cursor_moves_with_the_readings_it_covers(self, path):
        with Outbox(path) as outbox:
            assert outbox.cursor("GL-1") is None
            outbox.record(
                [glucose(sequence=i, minutes=i) for i in (7, 8)],
                cursors=[Cursor("GL-1", 255, 8)],
            )
        with Outbox(path) as reopened:
            assert reopened.cursor("GL-1") == Cursor("GL-1", 255, 8)
            assert reopened.cursor("GL-1", user_index=1) is None

    def test_a_failed_write_moves_neither_readings_nor_cursor(self, path):
        with Outbox(path) as outbox:
            outbox.record([glucose(sequence=1)], cursors=[Cursor("GL-1", 255, 1)])
            broken = {"device_serial": "GL-1", "measured_at": "2026-11-01T07:30:00+00:00"}
            broken["sequence_number"] = object()  # cannot be stored
            with pytest.raises((TypeError, sqlite3.Error)):
                outbox.record([glucose(sequence=2), broken], cursors=[Cursor("GL-1", 255, 2)])
            assert outbox.stats().pending == 1
            assert outbox.cursor("GL-1") == Cursor("GL-1", 255, 1)


class TestBound:
    def test_a_full_outbox_refuses_new_readings_and_keeps_the_old(self, path):
        with Outbox(path, max_pending=5) as outbox:
            outbox.record([glucose(sequence=i) for i in range(1, 5)])
            with pytest.raises(OutboxFull, match="stay on the device"):
                outbox.record(
                    [glucose(sequence=5), glucose(sequence=6)], cursors=[Cursor("GL-1", 255, 6)]
                )
            assert outbox.stats().pending == 4
            assert outbox.cursor("GL-1") is None  # the device will send 5 and 6 again

    def test_a_warning_when_the_bound_nears(self, path, caplog):
        with Outbox(path, max_pending=10) as outbox, caplog.at_level(logging.WARNING):
            outbox.record([glucose(sequence=i) for i in range(1, 8)])
            assert "nearly full" not in caplog.text
            outbox.record([glucose(sequence=8)])
            assert "nearly full: 8 of 10" in caplog.text
            assert outbox.stats().nearly_full


class TestSettle:
    def test_delivered_readings_leave_and_refused_ones_become_dead_letters(self, path):
        with Outbox(path) as outbox:
            outbox.record([glucose(sequence=i) for i in range(1, 4)])
            first, second, third = outbox.next_batch(10)
            outbox.settle([first.id, third.id], {second.id: "glucose: broken packet"})
            assert outbox.stats().pending == 0
            dead = outbox.dead_letters()
        assert [(d.item["sequence_number"], d.reason) for d in dead] == [
            (2, "glucose: broken packet")
        ]

    def test_device_reports_go_with_their_readings(self, path):
        with Outbox(path) as outbox:
            report = {"serial": "GL-1", "kind": "glucose", "battery_percent": 40}
            outbox.record([glucose(sequence=1)], device_report=report)
            outbox.record([], device_report={**report, "battery_percent": 35})
            assert outbox.device_reports({"GL-1"}) == [{**report, "battery_percent": 35}]
            assert outbox.device_reports({"BP-1"}) == []
