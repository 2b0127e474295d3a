"""What a replay counted: rows, bad rows (the first few with line numbers), residents, findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from analytics.findings import Severity

SHOWN_BAD_ROWS = 20  # bad rows of a file reported one by one; the rest are only counted


@dataclass(slots=True)
class BadRows:
    """The bad rows of one file: how many, and the first few as (line, reason)."""

    file: str
    count: int = 0
    shown: list[tuple[int, str]] = field(default_factory=list)

    def add(self, line: int, reason: str) -> None:
        """Count a bad row, keeping its reason if it is among the first ones."""
        self.count += 1
        if len(self.shown) < SHOWN_BAD_ROWS:
            self.shown.append((line, reason))

    def merge(self, other: BadRows) -> None:
        """Add another part's bad rows of the same file (the first ones stay the first)."""
        self.count += other.count
        self.shown = sorted(self.shown + other.shown)[:SHOWN_BAD_ROWS]

    def lines(self) -> list[str]:
        """One line per bad row shown, then how many more there were."""
        lines = [f"{self.file}:{line}: {reason}" for line, reason in self.shown]
        hidden = self.count - len(self.shown)
        if hidden:
            lines.append(f"{self.file}: {hidden} more bad row{'s' * (hidden != 1)} not shown")
        return lines


@dataclass(slots=True)
class Tally:
    """The counts of one part, or of a whole replay once the parts are merged."""

    bad_readings: BadRows
    bad_residents: BadRows | None = None
    rows: int = 0  # data rows of READINGS.csv, bad ones included
    residents: int = 0  # residents replayed: with readings, or listed in RESIDENTS.csv
    without_profile: int = 0  # residents with readings but not in RESIDENTS.csv
    findings: dict[str, int] = field(default_factory=dict)  # by severity label

    def merge(self, other: Tally) -> None:
        """Add the counts of another part."""
        self.bad_readings.merge(other.bad_readings)
        if self.bad_residents is not None and other.bad_residents is not None:
            self.bad_residents.merge(other.bad_residents)
        self.rows += other.rows
        self.residents += other.residents
        self.without_profile += other.without_profile
        for label, count in other.findings.items():
            self.findings[label] = self.findings.get(label, 0) + count

    def findings_text(self) -> str:
        """'3 findings (1 critical, 2 info)', worst first."""
        total = sum(self.findings.values())
        parts = [
            f"{self.findings[s.label]:,} {s.label}"
            for s in sorted(Severity, reverse=True)
            if self.findings.get(s.label)
        ]
        text = f"{total:,} finding{'s' * (total != 1)}"
        return f"{text} ({', '.join(parts)})" if parts else text
