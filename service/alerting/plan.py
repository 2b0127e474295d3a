"""Who is told about an alert, on which channel and when: the escalation policy applied to a
resident's people. Pure: the people, the history and the clock are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from analytics.findings import Audience
from service.alerting.policy import SeverityPolicy, Step

Channel = Literal["sms", "voice"]
Purpose = Literal["alert", "escalation", "all_clear"]


@dataclass(frozen=True)
class Person:
    """Someone who can be told: a family contact or a doctor."""

    kind: Literal["contact", "user"]
    id: int
    name: str
    phone: str | None
    language: str
    time_zone: str
    rank: int = 0  # position in the resident's escalation order (1 = first); doctors 0
    quiet_hours: tuple[time, time] | None = None
    sms: bool = True  # a mobile number that did not reply STOP
    voice: bool = True

    @property
    def key(self) -> str:
        """How the outbox names this person ('contact:12', 'user:3')."""
        return f"{self.kind}:{self.id}"

    def reachable_by(self, channel: Channel) -> bool:
        """Whether a message on `channel` can reach this person."""
        return self.phone is not None and (self.sms if channel == "sms" else self.voice)


@dataclass(frozen=True)
class Planned:
    """One message to send (or hold) about an alert."""

    person: Person
    channel: Channel
    due_at: datetime
    purpose: Purpose


def quiet_until(person: Person, at: datetime) -> datetime:
    """`at`, or the end of the person's quiet hours when `at` falls inside them."""
    if person.quiet_hours is None:
        return at
    start, end = person.quiet_hours
    zone = ZoneInfo(person.time_zone)
    local = at.astimezone(zone)
    now = local.time()
    inside = start <= now < end if start < end else now >= start or now < end
    if not inside:
        return at
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, zone)


def _person_for(step: Step, family: Sequence[Person], doctors: Sequence[Person]) -> list[Person]:
    if step.to == "doctor":
        return list(doctors)
    return [family[step.rank - 1]] if step.rank <= len(family) else []


def _channel_for(person: Person, wanted: Channel) -> Channel | None:
    """The step's channel, or the other one when the person cannot be reached on it."""
    if person.reachable_by(wanted):
        return wanted
    other: Channel = "voice" if wanted == "sms" else "sms"
    return other if person.reachable_by(other) else None


def plan_alert(
    policy: SeverityPolicy,
    audience: Iterable[Audience],
    family: Sequence[Person],
    doctors: Sequence[Person],
    at: datetime,
    recently_told: frozenset[str] = frozenset(),
) -> list[Planned]:
    """The messages of an alert opened (or risen) at `at`.

    `family` are the resident's contacts in escalation order, `doctors` the people told on
    the resident's behalf. People in `recently_told` had this rule at this severity or
    higher lately and are not told again. With no family member to reach at once, the
    doctor steps move to the start: someone must hear of it.
    """
    audience = set(audience)
    steps = [
        s
        for s in policy.steps
        if (s.to == "family" and Audience.FAMILY in audience)
        or (s.to == "doctor" and Audience.DOCTOR in audience)
    ]
    first_family = [
        p
        for s in steps
        if s.to == "family" and not s.is_escalation
        for p in _person_for(s, family, doctors)
        if _channel_for(p, s.channel) is not None
    ]
    if Audience.FAMILY in audience and not first_family:
        steps = [replace_delay(s, 0) if s.to == "doctor" else s for s in steps]
    planned: list[Planned] = []
    seen: set[tuple[str, str]] = set()
    for step in steps:
        for person in _person_for(step, family, doctors):
            channel = _channel_for(person, step.channel)
            if channel is None or person.key in recently_told:
                continue
            if (person.key, channel) in seen:
                continue  # a voice call replacing an SMS to a landline, already planned
            seen.add((person.key, channel))
            due = at + timedelta(minutes=step.after_minutes)
            if not policy.urgent:
                due = quiet_until(person, due)
            purpose: Purpose = "escalation" if step.is_escalation else "alert"
            planned.append(Planned(person, channel, due, purpose))
    return planned


def replace_delay(step: Step, minutes: float) -> Step:
    """The step with another delay."""
    return step.model_copy(update={"after_minutes": minutes})


def plan_all_clear(told: Iterable[Person], at: datetime) -> list[Planned]:
    """An all-clear by SMS to everyone who was told of the alert (quiet hours kept)."""
    planned = []
    for person in {p.key: p for p in told}.values():
        if person.reachable_by("sms"):
            planned.append(Planned(person, "sms", quiet_until(person, at), "all_clear"))
    return planned


def next_person(
    failed: Person, family: Sequence[Person], doctors: Sequence[Person]
) -> list[Person]:
    """Who is tried when every message to `failed` failed: the next family contact in the
    escalation order, and after the last one the doctors."""
    if failed.kind == "contact":
        later = [p for p in family if p.rank > failed.rank and _channel_for(p, "sms")]
        if later:
            return [later[0]]
        return [d for d in doctors if _channel_for(d, "sms")]
    return []
