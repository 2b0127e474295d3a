"""The glucose chart of one resident: readings by meal, against hypo- and hyperglycaemia bands.

The range "in range" counts is 3.9-10.0 mmol/L, the time-in-range target of [TIR] Battelino
et al., "Clinical Targets for Continuous Glucose Monitoring Data Interpretation", Diabetes
Care 2019; its low end is the [ADA] level 1 hypoglycaemia threshold of analytics.thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go

from analytics.thresholds import DEFAULT_THRESHOLDS, Thresholds
from dashboards.figures._common import (
    FLAGGED_GREY,
    Gettext,
    empty_figure,
    flagged_hover,
    hband,
    hline,
    identity,
    local_times,
    mmol,
    new_figure,
    scatter_type,
    stamp,
)
from dashboards.figures.rows import GlucosePoint

IN_RANGE_HIGH = 10.0  # [TIR] mmol/L
IN_RANGE = (DEFAULT_THRESHOLDS.glucose_hypo_level1, IN_RANGE_HIGH)
AXIS_TOP = 20.0  # mmol/L: the axis reaches at least this high, so the bands show
BEFORE_MEAL = frozenset({"fasting", "preprandial"})
AFTER_MEAL = frozenset({"postprandial"})


def share_in_range(
    readings: Sequence[GlucosePoint],
    low: float = IN_RANGE[0],
    high: float = IN_RANGE[1],
) -> float | None:
    """The share (0-1) of counted readings from `low` to `high` inclusive; None if none count."""
    clean = [r.mmol_l for r in readings if r.quality is None]
    if not clean:
        return None
    return sum(low <= v <= high for v in clean) / len(clean)


def glucose_figure(
    readings: Sequence[GlucosePoint],
    *,
    zone: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    in_range: tuple[float, float] = IN_RANGE,
    gettext: Gettext = identity,
) -> go.Figure:
    """Glucose readings split by meal, with danger bands, target range and share in range."""
    title = gettext("Blood glucose")
    if not readings:
        return empty_figure(title, gettext)
    figure = new_figure(title, hovermode="closest")
    clean = [r for r in readings if r.quality is None]
    groups = (
        (gettext("Fasting / before meal"), "circle", "#1565c0", BEFORE_MEAL),
        (gettext("After meal"), "triangle-up", "#ef6c00", AFTER_MEAL),
        (gettext("Other times"), "square", "#558b2f", None),
    )
    for name, symbol, color, meals in groups:
        members = [r for r in clean if _in_group(r.meal, meals)]
        if members:
            _add_points(figure, members, zone, name, symbol, color, gettext)
    _add_flagged(figure, [r for r in readings if r.quality is not None], zone, gettext)
    top = max(AXIS_TOP, max(r.mmol_l for r in readings) + 1)
    figure.update_layout(shapes=_bands(thresholds, in_range, top, gettext))
    # Numbers, not month names: the plotly.js we serve knows only English ones.
    figure.update_xaxes(tickformat="%m-%d %H:%M")
    figure.update_layout(yaxis={"title": {"text": gettext("mmol/L")}, "range": [0, top]})
    share = share_in_range(readings, *in_range)
    if share is not None:
        figure.update_layout(
            title_subtitle_text=gettext("In range ({low}-{high} mmol/L): {percent}%").format(
                percent=round(share * 100), low=mmol(in_range[0]), high=mmol(in_range[1])
            ),
            margin_t=80,
        )
    return figure


def _in_group(meal: str | None, meals: frozenset[str] | None) -> bool:
    """Whether a reading taken at `meal` belongs to the group of `meals` (None: the rest)."""
    if meals is None:
        return meal not in BEFORE_MEAL and meal not in AFTER_MEAL
    return meal in meals


def _bands(
    th: Thresholds, in_range: tuple[float, float], top: float, gettext: Gettext
) -> list[object]:
    """Hypoglycaemia (levels 1 and 2), the target range, hyperglycaemia (warning, urgent)."""
    level2, level1 = th.glucose_hypo_level2, th.glucose_hypo_level1
    warning, urgent = th.glucose_hyper_warning, th.glucose_hyper_urgent
    fasting = th.fasting_glucose_target
    low, high = in_range
    severe_low = gettext("Severe low < {value}").format(value=mmol(level2))
    mild_low = gettext("Low < {value}").format(value=mmol(level1))
    target = gettext("Target range {low}-{high}").format(low=mmol(low), high=mmol(high))
    mild_high = gettext("High ≥ {value}").format(value=mmol(warning))
    severe_high = gettext("Very high ≥ {value}").format(value=mmol(urgent))
    fasting_line = gettext("Fasting target < {value}").format(value=mmol(fasting))
    return [
        hband(0, level2, "#b71c1c", severe_low, 0.25),
        hband(level2, level1, "#e57373", mild_low, 0.2),
        hband(low, high, "#66bb6a", target, 0.12),
        hband(warning, urgent, "#fb8c00", mild_high, 0.15),
        hband(urgent, top, "#d32f2f", severe_high, 0.18),
        hline(fasting, fasting_line, "#1565c0"),
    ]


def _add_points(
    figure: go.Figure,
    members: list[GlucosePoint],
    zone: str,
    name: str,
    symbol: str,
    color: str,
    gettext: Gettext,
) -> None:
    """One meal group's readings as markers, with local time and meal in the hover text."""
    x = local_times((r.at for r in members), zone)
    value = gettext("{value} mmol/L")
    meals = _meal_labels(gettext)
    text = []
    for r, at in zip(members, x, strict=True):
        parts = [stamp(at), value.format(value=mmol(r.mmol_l))]
        if r.meal is not None:
            parts.append(meals.get(r.meal, r.meal.replace("_", " ")))
        text.append("<br>".join(parts))
    figure.add_trace(
        scatter_type(len(members))(
            x=x,
            y=[r.mmol_l for r in members],
            text=text,
            name=name,
            mode="markers",
            marker={"symbol": symbol, "size": 8, "color": color},
            hovertemplate="%{text}<extra></extra>",
        )
    )


def _add_flagged(
    figure: go.Figure, flagged: list[GlucosePoint], zone: str, gettext: Gettext
) -> None:
    """Hollow grey marks for readings that do not count."""
    if not flagged:
        return
    x: list[datetime] = local_times((r.at for r in flagged), zone)
    value = gettext("{value} mmol/L")
    figure.add_trace(
        scatter_type(len(flagged))(
            x=x,
            y=[r.mmol_l for r in flagged],
            text=[
                flagged_hover(at, value.format(value=mmol(r.mmol_l)), r.quality or "", gettext)
                for r, at in zip(flagged, x, strict=True)
            ],
            name=gettext("Not counted (data quality)"),
            mode="markers",
            marker={"symbol": "circle-open", "size": 8, "color": FLAGGED_GREY},
            hovertemplate="%{text}<extra></extra>",
        )
    )


def _meal_labels(gettext: Gettext) -> dict[str, str]:
    """Words for when a reading was taken, by analytics.readings.Meal value."""
    return {
        "fasting": gettext("fasting"),
        "preprandial": gettext("before a meal"),
        "postprandial": gettext("after a meal"),
        "bedtime": gettext("at bedtime"),
        "casual": gettext("random time"),
    }
