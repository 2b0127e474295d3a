"""The control targets in SQL: a resident's own, else the guideline's (`analytics.thresholds`)
for their age, so the pages count control as detection does."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from analytics.thresholds import DEFAULT_THRESHOLDS, Thresholds

_BP = """({systolic} < coalesce(r.target_systolic,
            CASE WHEN age(%(now)s, r.birth_date) >= make_interval(years => %(elderly_age)s)
                 THEN %(elderly_target_systolic)s ELSE %(target_systolic)s END)
          AND {diastolic} < coalesce(r.target_diastolic,
            CASE WHEN age(%(now)s, r.birth_date) >= make_interval(years => %(elderly_age)s)
                 THEN %(elderly_target_diastolic)s ELSE %(target_diastolic)s END))"""


def bp_controlled(systolic: str, diastolic: str) -> sql.Composable:
    """True when the mean pressures (SQL expressions) are below the target of resident `r`
    at `%(now)s`; needs `target_parameters()`."""
    return sql.SQL(_BP).format(systolic=sql.SQL(systolic), diastolic=sql.SQL(diastolic))


def glucose_controlled(fasting: str) -> sql.Composable:
    """True when the mean fasting glucose (an SQL expression) is below resident `r`'s target."""
    return sql.SQL(
        "({fasting} < coalesce(r.target_fasting_glucose, %(fasting_glucose_target)s))"
    ).format(fasting=sql.SQL(fasting))


def target_parameters(th: Thresholds = DEFAULT_THRESHOLDS) -> dict[str, Any]:
    """The guideline's targets (and the fewest readings that give a verdict), as the
    parameters of the expressions above."""
    names = (
        "target_systolic",
        "target_diastolic",
        "elderly_age",
        "elderly_target_systolic",
        "elderly_target_diastolic",
        "fasting_glucose_target",
        "control_min_readings",
    )
    return {name: getattr(th, name) for name in names}
