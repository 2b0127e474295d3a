"""The gateway's durable outbox: every reading is on disk before anything else happens to it.

One SQLite file in the gateway's data directory holds:

- `pending`: readings waiting for upload, each as the JSON item POST /v1/readings takes;
- `dead_letters`: readings the service refused, with its reason (kept, never retried blindly);
- `cursors`: per device (and device user) the highest record sequence number stored here, so
  that a download resumes where the last one ended;
- `device_reports`: the latest metadata of each device (battery, clock offset ...);
- `seen`: per device the records it has handed over, by the device's own name for them
  (user, sequence number, its own time stamp). A record the device sends again (a monitor
  that resends its memory, a meter after its sequence counter wrapped) is not stored again,
  even when its corrected time came out differently the second time.

Readings and the cursor that covers them are written in one transaction: the cursor never
moves past a reading that is not on disk. When the outbox reaches its bound it refuses new
readings (they stay on the device for a later download) instead of dropping any.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.readings import Captured

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 200_000  # a few months of one home's readings; some tens of MB at most
WARN_FRACTION = 0.8
NO_SEQUENCE = -1
# Records remembered per device: more than a meter or a monitor's memory holds.
SEEN_PER_DEVICE = 5_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    device_serial   TEXT NOT NULL,
    user_index      INTEGER NOT NULL,
    sequence_number INTEGER NOT NULL,
    measured_at     TEXT NOT NULL,
    item            TEXT NOT NULL,
    queued_at       REAL NOT NULL,
    UNIQUE (device_serial, user_index, sequence_number, measured_at)
);
CREATE INDEX IF NOT EXISTS pending_order ON pending (measured_at, id);
CREATE TABLE IF NOT EXISTS dead_letters (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    item      TEXT NOT NULL,
    reason    TEXT NOT NULL,
    queued_at REAL NOT NULL,
    dead_at   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    device_serial TEXT NOT NULL,
    user_index    INTEGER NOT NULL,
    last_sequence INTEGER NOT NULL,
    updated_at    REAL NOT NULL,
    PRIMARY KEY (device_serial, user_index)
);
CREATE TABLE IF NOT EXISTS seen (
    device_serial TEXT NOT NULL,
    identity      TEXT NOT NULL,
    PRIMARY KEY (device_serial, identity)
);
CREATE TABLE IF NOT EXISTS device_reports (
    serial     TEXT PRIMARY KEY,
    report     TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


class OutboxFull(Exception):
    """The outbox holds its maximum of pending readings; new ones must wait on the device."""


@dataclass(frozen=True)
class Cursor:
    """Where a device's download stands: the highest sequence number safely stored."""

    device_serial: str
    user_index: int
    last_sequence: int


@dataclass(frozen=True)
class PendingReading:
    """A reading waiting for upload."""

    id: int
    item: dict[str, Any]


@dataclass(frozen=True)
class DeadLetter:
    """A reading the service refused, with its reason."""

    id: int
    item: dict[str, Any]
    reason: str
    dead_at: float


@dataclass(frozen=True)
class OutboxStats:
    """How full the outbox is."""

    pending: int
    dead_letters: int
    max_pending: int

    @property
    def nearly_full(self) -> bool:
        """True from WARN_FRACTION of the bound on."""
        return self.pending >= WARN_FRACTION * self.max_pending


def _key(item: Mapping[str, Any]) -> tuple[str, int, int, str]:
    sequence = item.get("sequence_number")
    return (
        str(item["device_serial"]),
        int(item.get("user_index", 255)),
        NO_SEQUENCE if sequence is None else int(sequence),
        str(item["measured_at"]),
    )


class Outbox:
    """The SQLite outbox of one gateway. Not shared between threads."""

    def __init__(self, path: Path, *, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_pending = max_pending
        self._db = sqlite3.connect(path, isolation_level=None)
        # WAL with synchronous=FULL: a committed reading survives a power cut of the gateway.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._warned = False

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record(
        self,
        readings: Sequence[Captured | Mapping[str, Any]],
        *,
        cursors: Sequence[Cursor] = (),
        device_report: Mapping[str, Any] | None = None,
    ) -> int:
        """Store readings (and the cursors and device report that go with them) atomically.

        Returns how many readings were new: one already pending is not stored twice, nor is
        a record (a `Captured` with an identity) the device handed over before. Raises
        OutboxFull, storing nothing, when the readings would not fit.
        """
        now = time.time()
        with self._transaction() as db:
            pending = self._count(db, "pending")
            if pending + len(readings) > self.max_pending:
                raise OutboxFull(
                    f"outbox holds {pending} readings, bound {self.max_pending}: "
                    "readings stay on the device until uploads make room"
                )
            added = 0
            for reading in readings:
                if isinstance(reading, Captured):
                    if not self._first_time(db, reading):
                        continue
                    reading = reading.item
                added += db.execute(
                    """INSERT OR IGNORE INTO pending (device_serial, user_index, sequence_number,
                                                      measured_at, item, queued_at)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    (*_key(reading), json.dumps(reading, ensure_ascii=False), now),
                ).rowcount
            self._forget_old_records(db, readings)
            for cursor in cursors:
                db.execute(
                    """INSERT INTO cursors VALUES (?, ?, ?, ?)
                       ON CONFLICT (device_serial, user_index) DO UPDATE
                       SET last_sequence = excluded.last_sequence,
                           updated_at = excluded.updated_at""",
                    (cursor.device_serial, cursor.user_index, cursor.last_sequence, now),
                )
            if device_report is not None:
                db.execute(
                    "INSERT OR REPLACE INTO device_reports VALUES (?, ?, ?)",
                    (str(device_report["serial"]), json.dumps(device_report), now),
                )
        self._warn_if_nearly_full()
        return added

    @staticmethod
    def _first_time(db: sqlite3.Connection, reading: Captured) -> bool:
        if reading.identity is None:
            return True
        serial = str(reading.item["device_serial"])
        inserted = db.execute(
            "INSERT OR IGNORE INTO seen (device_serial, identity) VALUES (?, ?)",
            (serial, reading.identity),
        ).rowcount
        if not inserted:
            log.info("%s: record %s was handed over before", serial, reading.identity)
        return bool(inserted)

    @staticmethod
    def _forget_old_records(
        db: sqlite3.Connection, readings: Sequence[Captured | Mapping[str, Any]]
    ) -> None:
        serials = {str(r.item["device_serial"]) for r in readings if isinstance(r, Captured)}
        for serial in serials:
            db.execute(
                """DELETE FROM seen WHERE device_serial = ? AND rowid <= (
                       SELECT rowid FROM seen WHERE device_serial = ?
                       ORDER BY rowid DESC LIMIT 1 OFFSET ?)""",
                (serial, serial, SEEN_PER_DEVICE),
            )

    def cursor(self, device_serial: str, user_index: int = 255) -> Cursor | None:
        """The stored download position of a device (user), or None before the first sync."""
        row = self._db.execute(
            "SELECT last_sequence FROM cursors WHERE device_serial = ? AND user_index = ?",
            (device_serial, user_index),
        ).fetchone()
        return None if row is None else Cursor(device_serial, user_index, int(row[0]))

    def next_batch(self, limit: int) -> list[PendingReading]:
        """The oldest pending readings, in order of measurement."""
        rows = self._db.execute(
            "SELECT id, item FROM pending ORDER BY measured_at, id LIMIT ?", (limit,)
        ).fetchall()
        return [PendingReading(int(r[0]), json.loads(r[1])) for r in rows]

    def device_reports(self, serials: set[str]) -> list[dict[str, Any]]:
        """The latest metadata of these devices, for the upload that carries their readings."""
        rows = self._db.execute("SELECT serial, report FROM device_reports").fetchall()
        return [json.loads(r[1]) for r in rows if r[0] in serials]

    def settle(self, delivered: Sequence[int], refused: Mapping[int, str]) -> None:
        """Forget delivered readings; move refused ones, with the reason, to the dead letters."""
        now = time.time()
        with self._transaction() as db:
            db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in delivered])
            for pending_id, reason in refused.items():
                row = db.execute(
                    "SELECT item, queued_at FROM pending WHERE id = ?", (pending_id,)
                ).fetchone()
                if row is None:
                    continue
                db.execute(
                    """INSERT INTO dead_letters (item, reason, queued_at, dead_at)
                       VALUES (?, ?, ?, ?)""",
                    (row[0], reason, row[1], now),
                )
                db.execute("DELETE FROM pending WHERE id = ?", (pending_id,))
                log.warning("the service refused a reading (%s): %s", reason, row[0])

    def dead_letters(self) -> list[DeadLetter]:
        """Readings the service refused, oldest first."""
        rows = self._db.execute(
            "SELECT id, item, reason, dead_at FROM dead_letters ORDER BY id"
        ).fetchall()
        return [DeadLetter(int(r[0]), json.loads(r[1]), str(r[2]), float(r[3])) for r in rows]

    def stats(self) -> OutboxStats:
        """Counts of pending readings and dead letters, and the bound."""
        return OutboxStats(
            self._count(self._db, "pending"),
            self._count(self._db, "dead_letters"),
            self.max_pending,
        )

    @staticmethod
    def _count(db: sqlite3.Connection, table: str) -> int:
        # table is one of two constants of this module, never outside input
        row = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        return int(row[0])

    def _warn_if_nearly_full(self) -> None:
        stats = self.stats()
        if stats.nearly_full and not self._warned:
            log.warning(
                "outbox nearly full: %d of %d readings pending upload; is the service reachable?",
                stats.pending,
                stats.max_pending,
            )
        self._warned = stats.nearly_full
