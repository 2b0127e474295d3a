"""The escalation policy: for each severity, who is told, on which channel, and when.

A step names a person (`family` with the rank of the contact in the resident's escalation
order, or `doctor`), a channel and a delay from when the alert opened or rose. Steps with a
delay are escalations: they go out only while nobody has acknowledged the alert. A family
step is taken only for alerts whose audience includes the family, a doctor step only for
those whose audience includes the doctor.

The defaults follow the plan for Linli: critical alerts reach the first family contact and
the doctor at once, a voice call follows after 5 minutes without an acknowledgement and the
next contact after 10; urgent alerts reach the first family contact, the doctor after 15
minutes; warnings reach the family by SMS (held in quiet hours) and the doctor in the daily
digest; information stays on the dashboard. Each community may override any of it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analytics.findings import Severity

Minutes = Annotated[float, Field(ge=0, le=7 * 24 * 60)]


class Step(BaseModel):
    """One message of the escalation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    to: Literal["family", "doctor"]
    rank: Annotated[int, Field(ge=1, le=10)] = 1  # which family contact, in escalation order
    channel: Literal["sms", "voice"] = "sms"
    after_minutes: Minutes = 0

    @property
    def is_escalation(self) -> bool:
        """Whether the step waits for an acknowledgement that did not come."""
        return self.after_minutes > 0


class SeverityPolicy(BaseModel):
    """What happens to alerts of one severity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: tuple[Step, ...] = ()
    # Urgent messages go out at any hour; the others wait for the end of quiet hours.
    urgent: bool = False
    # Doctors find these alerts in the morning's digest rather than one message each.
    digest: bool = False
    # The same rule for the same resident is not sent to the same person again within this
    # many hours, unless the severity rose.
    repeat_hours: Annotated[float, Field(ge=0, le=7 * 24)] = 4


def _family(rank: int, channel: Literal["sms", "voice"] = "sms", after: float = 0) -> Step:
    return Step(to="family", rank=rank, channel=channel, after_minutes=after)


def _doctor(after: float = 0) -> Step:
    return Step(to="doctor", after_minutes=after)


class Policy(BaseModel):
    """A community's whole policy; `Policy()` is the default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    critical: SeverityPolicy = SeverityPolicy(
        steps=(
            _family(1),
            _doctor(),
            _family(1, "voice", after=5),
            _family(2, after=10),
            _family(2, "voice", after=10),
        ),
        urgent=True,
        repeat_hours=1,
    )
    urgent: SeverityPolicy = SeverityPolicy(
        steps=(_family(1), _doctor(after=15)), urgent=True, repeat_hours=4
    )
    warning: SeverityPolicy = SeverityPolicy(steps=(_family(1),), digest=True, repeat_hours=12)
    info: SeverityPolicy = SeverityPolicy()
    # A link added to alert texts when it fits (e.g. the dashboard's short address). None by
    # default: carriers in mainland China reject texts with links unless registered.
    link: Annotated[str, Field(pattern=r"^https?://\S{1,80}$")] | None = None

    def at(self, severity: Severity) -> SeverityPolicy:
        """The policy for alerts of `severity`."""
        policy: SeverityPolicy = getattr(self, severity.label)
        return policy


DEFAULT_POLICY = Policy()


def policy_with_overrides(overrides: dict[str, Any]) -> Policy:
    """The default policy with a community's overrides; ValueError says what is wrong.

    A severity given in the overrides is merged field by field with the default one, so
    `{"urgent": {"repeat_hours": 2}}` keeps the default steps.
    """
    merged: dict[str, Any] = DEFAULT_POLICY.model_dump()
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    try:
        return Policy.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"alerting_overrides.{where}: {first['msg']}") from None
