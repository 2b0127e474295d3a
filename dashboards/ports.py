"""What the pages need from the service, and what they get: plain rows, and one `Store` the
service hands in when it mounts the pages. The pages never reach into the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from dashboards.figures.rows import BpDay, BpPoint, ControlMonth, ControlPlace, GlucosePoint

Role = Literal["doctor", "admin", "family"]


@dataclass(frozen=True)
class Viewer:
    """The signed-in person."""

    id: int
    display_name: str
    role: Role
    language: str


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, and the token its forms must carry."""

    viewer: Viewer
    csrf_token: str


class SignInRefused(Exception):
    """Wrong name or password, or too many tries (`locked`)."""

    def __init__(self, locked: bool = False) -> None:
        super().__init__("locked" if locked else "refused")
        self.locked = locked


@dataclass(frozen=True)
class AlertRow:
    """An open (or past) alert as a list shows it."""

    id: int
    resident_id: int
    resident_name: str
    rule: str
    severity: str
    state: str
    opened_at: datetime
    message: str
    handled_by: str | None = None  # who acknowledged it


@dataclass(frozen=True)
class FollowUp:
    """A resident a doctor should follow up, and why (rule ids, most serious first)."""

    resident_id: int
    resident_name: str
    reasons: tuple[str, ...]
    quality_problems: int = 0


@dataclass(frozen=True)
class Today:
    """The doctor's home page."""

    alerts: list[AlertRow]
    follow_up: list[FollowUp]


@dataclass(frozen=True)
class Contact:
    """A family contact in escalation order."""

    name: str
    relationship: str | None
    phone: str
    sms: bool


@dataclass(frozen=True)
class Device:
    """A device of the resident."""

    serial: str
    kind: str
    battery_percent: int | None
    last_reading_at: datetime | None
    clock_offset_seconds: float | None


@dataclass(frozen=True)
class Note:
    """A doctor's note."""

    author: str | None
    text: str
    at: datetime


@dataclass(frozen=True)
class ResidentView:
    """One resident's story over a period."""

    id: int
    name: str
    age: int
    conditions: tuple[str, ...]
    community: str
    time_zone: str
    target: tuple[float, float]
    start: datetime
    end: datetime
    bp: list[BpPoint] = field(default_factory=list)
    bp_days: list[BpDay] = field(default_factory=list)
    glucose: list[GlucosePoint] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


@dataclass(frozen=True)
class CommunityView:
    """A community's (or every community's) control rates and activity."""

    name: str
    communities: list[tuple[int, str]]  # the ones the viewer may pick
    managed: int
    measuring_share: float | None  # residents who measured in the last 7 days
    months: list[ControlMonth]
    places: list[ControlPlace]  # grids of the community, or communities side by side
    alerts_per_week: list[tuple[date, int]]


@dataclass(frozen=True)
class FamilyView:
    """A relative as a family member sees them."""

    resident_id: int
    name: str
    time_zone: str
    target: tuple[float, float]
    last_bp: BpPoint | None
    last_glucose: GlucosePoint | None
    bp: list[BpPoint]
    alerts: list[AlertRow]


@dataclass(frozen=True)
class PanelRow:
    """One resident in the doctor's panel."""

    resident_id: int
    name: str
    community: str
    grid: str | None
    conditions: tuple[str, ...]
    last_bp: tuple[float, float] | None
    last_bp_at: datetime | None
    last_glucose: float | None
    last_glucose_at: datetime | None
    bp_7d: tuple[float, float] | None
    bp_30d: tuple[float, float] | None
    controlled: bool | None  # None: too few readings to say
    days_measured_30d: int
    open_alerts: int
    worst_severity: str | None
    trend: tuple[float | None, ...] = ()  # daily mean systolic, the last 30 days


PanelSort = Literal["name", "alerts", "last_reading", "systolic", "adherence"]


@dataclass(frozen=True)
class PanelQuery:
    """What the panel shows: filters, order and page."""

    community: int | None = None
    grid: int | None = None
    condition: Literal["hypertension", "diabetes"] | None = None
    status: Literal["uncontrolled", "alerts", "not_measuring"] | None = None
    sort: PanelSort = "alerts"
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class PanelView:
    """A page of the panel."""

    rows: list[PanelRow]
    total: int
    query: PanelQuery
    communities: list[tuple[int, str]]
    grids: list[tuple[int, str]]


@dataclass(frozen=True)
class AuditRow:
    """One entry of the audit trail."""

    at: datetime
    user: str | None
    action: str
    resident_id: int | None
    resident_name: str | None
    client: str | None


class Store(Protocol):
    """Everything the pages read and change, implemented by the service."""

    async def sign_in(self, username: str, password: str, client: str | None) -> str:
        """A new session token; SignInRefused otherwise."""
        ...

    async def session(self, token: str) -> Session | None:
        """The session of a token, or None when unknown or expired."""
        ...

    async def sign_out(self, token: str) -> None:
        """End the session."""
        ...

    async def set_language(self, viewer: Viewer, language: str) -> None:
        """Remember the viewer's language."""
        ...

    async def today(self, viewer: Viewer) -> Today:
        """Open alerts and residents needing follow-up, for a doctor or admin."""
        ...

    async def act_on_alert(
        self, viewer: Viewer, alert_id: int, action: Literal["acknowledge", "resolve"], note: str
    ) -> bool:
        """Acknowledge or resolve an alert the viewer may see; False if it was not open."""
        ...

    async def add_note(self, viewer: Viewer, resident_id: int, text: str) -> bool:
        """A doctor's note on a resident they serve; False if they may not."""
        ...

    async def resident(
        self, viewer: Viewer, resident_id: int, days: int, client: str | None
    ) -> ResidentView | None:
        """A resident the viewer may see (the view is audited), or None."""
        ...

    async def community(self, viewer: Viewer, community_id: int | None) -> CommunityView | None:
        """Control rates of a community the viewer serves (None: all of theirs)."""
        ...

    async def family(self, viewer: Viewer, client: str | None) -> list[FamilyView]:
        """The viewer's relatives (each view audited)."""
        ...

    async def panel(self, viewer: Viewer, query: PanelQuery) -> PanelView:
        """A page of the residents the viewer serves."""
        ...

    async def audit(self, viewer: Viewer, limit: int) -> list[AuditRow]:
        """The newest entries of the audit trail (admins only)."""
        ...
