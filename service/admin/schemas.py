"""What admins send to create or change communities, residents, contacts and users.

Create models carry what a new row needs; Update models have every field optional and only
the fields the caller actually set are applied (`changes()`), so `{"name": "x"}` renames and
leaves the rest alone. Explicit nulls are refused for columns that cannot be empty.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, time
from typing import Annotated, Any, ClassVar, Literal, Self

import phonenumbers
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PastDate,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from analytics.thresholds import DEFAULT_THRESHOLDS
from service.alerting.policy import policy_with_overrides
from service.auth import Role
from service.ids import Id

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


def _e164(phone: str) -> str:
    if not _E164.fullmatch(phone):
        raise ValueError(
            "must be in E.164 form: + then 7 to 15 digits, the first not 0 (e.g. +8613800138000)"
        )
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        # E.164 in form only: a digit missing or extra, or a prefix no carrier uses.
        raise ValueError(f"{phone} is not a valid phone number for its country")
    return phone


def _time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a directory of the zone database, like "Asia".
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like Asia/Shanghai"
        ) from None
    return name


def _username(name: str) -> str:
    if not _USERNAME.fullmatch(name):
        raise ValueError("must be 2 to 64 letters, digits or the characters _ . @ -")
    return name


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _finite(value: Any, where: str) -> None:
    """Refuse NaN and Infinity anywhere in a JSON value (jsonb cannot store them)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _finite(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _finite(item, f"{where}.{index}")


def _alerting_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    _finite(overrides, "alerting_overrides")
    policy_with_overrides(overrides)  # ValueError names the setting at fault
    return overrides


def _detection_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    DEFAULT_THRESHOLDS.with_overrides(overrides)  # ValueError names the key at fault
    if "time_zone" in overrides:
        # The resident's own time_zone field is checked against the zone database; this is not.
        raise ValueError("threshold 'time_zone' is the resident's time_zone field, not a setting")
    for key, value in overrides.items():
        numbers = value if isinstance(value, list) else [value]
        # JSON bodies may carry NaN and Infinity, which no threshold means and jsonb refuses.
        if any(isinstance(n, float) and not math.isfinite(n) for n in numbers):
            raise ValueError(f"threshold {key!r} must be a finite number")
    return overrides


# PostgreSQL text cannot hold the NUL character: refused here, named, instead of a 500 later.
_NO_NUL = r"^[^\x00]*$"
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_NO_NUL)
]
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=200, pattern=_NO_NUL)
]
Relationship = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=100, pattern=_NO_NUL)
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_e164)]
TimeZone = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_time_zone),
    Field(description="An IANA zone name, e.g. Asia/Shanghai."),
]
Username = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_username)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1000)]
Language = Literal["zh-CN", "en"]
Sex = Literal["female", "male"]
Condition = Literal["hypertension", "diabetes"]
Conditions = Annotated[list[Condition], AfterValidator(_distinct)]
ContactKind = Literal["family", "neighbour", "other"]
Systolic = Annotated[int, Field(ge=90, le=200, description="Personal systolic target, mmHg.")]
Diastolic = Annotated[int, Field(ge=50, le=120, description="Personal diastolic target, mmHg.")]
FastingGlucose = Annotated[float, Field(ge=3, le=15, description="Fasting target, mmol/L.")]
EscalationOrder = Annotated[int, Field(ge=1, le=32767, description="1 is called first.")]
_OVERRIDES_HELP = (
    "Detection settings that differ from the defaults: threshold names of"
    ' analytics.thresholds.Thresholds and their values, e.g. {"bp_urgent_systolic": 170}.'
    " A resident's settings override their community's, and the resident's personal targets"
    " (target_systolic, target_diastolic, target_fasting_glucose) override both."
    " Sent in an update, the object replaces the stored one; {} clears it."
)
DetectionOverrides = Annotated[
    dict[str, Any], AfterValidator(_detection_overrides), Field(description=_OVERRIDES_HELP)
]
StoredOverrides = Annotated[
    dict[str, Any],
    Field(
        description="Detection settings that differ from the defaults (threshold name: value);"
        " a resident's override their community's, personal targets override both."
    ),
]


_ALERTING_HELP = (
    "Escalation policy settings that differ from the defaults (service.alerting.policy):"
    " per severity (critical, urgent, warning, info) its steps, urgent, digest and"
    ' repeat_hours, e.g. {"urgent": {"repeat_hours": 2}}. A severity given is merged field by'
    " field with the default one; steps, when given, replace the default steps."
    " Sent in an update, the object replaces the stored one; {} clears it."
)
AlertingOverrides = Annotated[
    dict[str, Any], AfterValidator(_alerting_overrides), Field(description=_ALERTING_HELP)
]
StoredAlertingOverrides = Annotated[
    dict[str, Any],
    Field(description="Escalation policy settings that differ from the defaults."),
]
DoctorId = Annotated[Id, Field(description="The resident's own doctor: a user with role doctor.")]


def set_clause(changes: Mapping[str, object]) -> sql.Composed:
    """`column = %(column)s, ...` for an UPDATE of these columns (names quoted as identifiers)."""
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in changes
    )


def as_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """Column values as psycopg takes them: the overrides objects as jsonb."""
    parameters = dict(values)
    for column in ("detection_overrides", "alerting_overrides"):
        if column in parameters:
            parameters[column] = Jsonb(parameters[column])
    return parameters


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Update(_Input):
    # Columns that are NOT NULL: leaving them out keeps them, sending null is an error.
    _not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _no_nulls_where_required(self) -> Self:
        for name in self._not_null:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the caller set, by column name."""
        return self.model_dump(exclude_unset=True)


class CommunityCreate(_Input):
    """A new community (社区)."""

    name: Name
    name_en: ShortText | None = None
    district: Name = "涪陵区"
    subdistrict: ShortText | None = None
    detection_overrides: DetectionOverrides = Field(default_factory=dict)
    alerting_overrides: AlertingOverrides = Field(default_factory=dict)


class CommunityUpdate(_Update):
    """Changes to a community; fields left out stay as they are."""

    _not_null = ("name", "district", "detection_overrides", "alerting_overrides")
    name: Name | None = None
    name_en: ShortText | None = None
    district: Name | None = None
    subdistrict: ShortText | None = None
    detection_overrides: DetectionOverrides | None = None
    alerting_overrides: AlertingOverrides | None = None


class GridCreate(_Input):
    """A new grid (网格) of a community."""

    name: Name


class GridUpdate(_Update):
    """A grid's new name."""

    _not_null = ("name",)
    name: Name | None = None


class ResidentCreate(_Input):
    """A new resident; the grid, when given, must belong to the community."""

    name: Name
    sex: Sex
    birth_date: PastDate
    conditions: Conditions = Field(default_factory=list)
    community_id: Id
    grid_id: Id | None = None
    language: Language = "zh-CN"
    time_zone: str = Field(default="Asia/Shanghai", description="An IANA zone name.")
    target_systolic: Systolic | None = None
    target_diastolic: Diastolic | None = None
    target_fasting_glucose: FastingGlucose | None = None
    detection_overrides: DetectionOverrides = Field(default_factory=dict)
    doctor_id: DoctorId | None = None


class ResidentUpdate(_Update):
    """Changes to a resident; fields left out stay as they are (null clears a target)."""

    _not_null = (
        "name",
        "sex",
        "birth_date",
        "conditions",
        "community_id",
        "language",
        "time_zone",
        "detection_overrides",
    )
    name: Name | None = None
    sex: Sex | None = None
    birth_date: PastDate | None = None
    conditions: Conditions | None = None
    community_id: Id | None = None
    grid_id: Id | None = None
    language: Language | None = None
    time_zone: str | None = None
    target_systolic: Systolic | None = None
    target_diastolic: Diastolic | None = None
    target_fasting_glucose: FastingGlucose | None = None
    detection_overrides: DetectionOverrides | None = None
    doctor_id: DoctorId | None = None


# A time of day on the contact's own clock, without an offset (their time zone says where).
# The schema gives its pattern: JSON Schema's `time` format would demand an offset.
LocalTime = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "examples": ["22:00"],
        }
    ),
]

_CONTACT_ZONE_HELP = "The contact's own IANA time zone; null: the resident's."


class ContactCreate(_Input):
    """A new contact of a resident; without escalation_order it comes after the others."""

    name: Name
    kind: ContactKind
    relationship: Relationship | None = None
    phone: Phone
    language: Language = "zh-CN"
    escalation_order: EscalationOrder | None = None
    quiet_hours_start: LocalTime | None = None
    quiet_hours_end: LocalTime | None = None
    time_zone: TimeZone | None = Field(default=None, description=_CONTACT_ZONE_HELP)

    @model_validator(mode="after")
    def _quiet_hours_both_or_neither(self) -> ContactCreate:
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValueError("quiet hours need both a start and an end")
        return self


class ContactUpdate(_Update):
    """Changes to a contact; fields left out stay as they are."""

    _not_null = ("name", "kind", "phone", "language", "escalation_order")
    name: Name | None = None
    kind: ContactKind | None = None
    relationship: Relationship | None = None
    phone: Phone | None = None
    language: Language | None = None
    escalation_order: EscalationOrder | None = None
    quiet_hours_start: LocalTime | None = None
    quiet_hours_end: LocalTime | None = None
    time_zone: TimeZone | None = Field(default=None, description=_CONTACT_ZONE_HELP)


class UserCreate(_Input):
    """A new user; without a password the user signs in with API tokens only."""

    username: Username
    display_name: Name
    role: Role
    password: Password | None = None
    language: Language = "zh-CN"
    phone: Phone | None = Field(default=None, description="E.164; doctors get SMS and calls.")
    time_zone: TimeZone = "Asia/Shanghai"


class UserUpdate(_Update):
    """Changes to a user; fields left out stay as they are (a null password or phone removes it)."""

    _not_null = ("display_name", "role", "language", "time_zone")
    display_name: Name | None = None
    role: Role | None = None
    password: Password | None = None
    language: Language | None = None
    phone: Phone | None = Field(default=None, description="E.164; null removes it.")
    time_zone: TimeZone | None = None


class GatewayCreate(_Input):
    """A new home gateway."""

    name: Name


class DeviceAssignment(_Input):
    """Whose readings a device user's are."""

    resident_id: Id


class IssuedGateway(BaseModel):
    """A newly registered gateway and its token, which is shown this once only."""

    id: int
    name: str
    created_at: datetime
    token: str
