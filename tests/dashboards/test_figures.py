"""The dashboard figures: literal rows in, what a user would see on the figure checked."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import pytest

from analytics.thresholds import DEFAULT_THRESHOLDS
from dashboards.figures import (
    BpDay,
    BpPoint,
    ControlMonth,
    ControlPlace,
    GlucosePoint,
    alerts_per_week_figure,
    bp_daily_figure,
    bp_figure,
    choose_resolution,
    control_compare_figure,
    control_trend_figure,
    glucose_figure,
    share_in_range,
    sparkline_figure,
)

SHANGHAI = "Asia/Shanghai"
NO_READINGS = "No readings in this period"


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def trace(figure: go.Figure, name: str) -> Any:
    """The one trace called `name`."""
    found = [t for t in figure.data if t.name == name]
    assert len(found) == 1, [t.name for t in figure.data]
    return found[0]


def names(figure: go.Figure) -> list[str]:
    return [t.name for t in figure.data if t.showlegend is not False]


def lines_at(figure: go.Figure) -> dict[float, str]:
    """The horizontal lines drawn: their height and label."""
    return {s.y0: s.label.text for s in figure.layout.shapes if s.type == "line"}


def bands(figure: go.Figure) -> dict[str, tuple[float, float]]:
    """The shaded bands drawn: their legend name and extent."""
    return {s.name: (s.y0, s.y1) for s in figure.layout.shapes if s.type == "rect"}


# Three counted readings (one without pulse, one irregular), one moved, one implausible.
BP_READINGS = [
    BpPoint(utc(1, 0, 5), 152, 88, 71),
    BpPoint(utc(1, 12), 138, 84, None, irregular_pulse=True),
    BpPoint(utc(2, 0), 160, 95, 80, irregular_pulse=True, quality="body_movement"),
    BpPoint(utc(2, 12), 146, 91, 75),
    BpPoint(utc(3, 0), 140, 136, 70, quality="quality.implausible"),  # a finding's rule
]


def test_bp_lines_show_counted_readings_and_flagged_ones_apart() -> None:
    figure = bp_figure(BP_READINGS, target=(150, 90), zone=SHANGHAI)
    assert names(figure) == [
        "Systolic",
        "Diastolic",
        "Pulse",
        "Irregular pulse",
        "Not counted (data quality)",
    ]
    assert list(trace(figure, "Systolic").y) == [152, 138, 146]
    assert list(trace(figure, "Diastolic").y) == [88, 84, 91]
    assert trace(figure, "Systolic").mode == "lines+markers"
    flagged = trace(figure, "Not counted (data quality)")
    assert list(flagged.y) == [160, 95, 140, 136]  # both values of each, no line
    assert flagged.mode == "markers"
    assert flagged.marker.symbol == "circle-open"
    assert "body movement" in flagged.text[0]
    assert "Not counted: implausible values" in flagged.text[2]


def test_bp_target_lines_at_the_given_target() -> None:
    older = bp_figure(BP_READINGS, target=(150, 90), zone=SHANGHAI)
    assert lines_at(older) == {150: "Target systolic 150", 90: "Target diastolic 90"}
    assert all(s.line.dash == "dash" for s in older.layout.shapes if s.type == "line")
    (above,) = [s for s in older.layout.shapes if s.type == "rect"]
    assert above.y0 == 150
    assert above.y1 >= 160  # up to the top of the axis
    younger = bp_figure(BP_READINGS, target=(140, 90), zone=SHANGHAI)
    assert set(lines_at(younger)) == {140, 90}


def test_bp_times_are_local() -> None:
    figure = bp_figure(BP_READINGS, target=(140, 90), zone=SHANGHAI)
    systolic = trace(figure, "Systolic")
    assert systolic.x[0] == datetime(2026, 3, 1, 8, 5)  # 00:05 UTC
    assert systolic.text[0].startswith("2026-03-01 08:05")
    assert "152/88 mmHg" in systolic.text[0]
    assert "Pulse 71/min" in systolic.text[0]
    flagged = trace(figure, "Not counted (data quality)")
    assert flagged.text[0].startswith("2026-03-02 08:00")
    in_london = bp_figure(BP_READINGS, target=(140, 90), zone="Europe/London")
    assert trace(in_london, "Systolic").text[0].startswith("2026-03-01 00:05")


def test_bp_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        bp_figure([BpPoint(datetime(2026, 3, 1, 8), 140, 90)], target=(140, 90), zone=SHANGHAI)


def test_pulse_on_the_secondary_axis() -> None:
    figure = bp_figure(BP_READINGS, target=(140, 90), zone=SHANGHAI)
    pulse = trace(figure, "Pulse")
    assert pulse.yaxis == "y2"
    assert list(pulse.y) == [71, 75]  # counted readings that have a pulse
    assert pulse.line.dash == "dot"
    assert figure.layout.yaxis2.overlaying == "y"
    assert figure.layout.yaxis2.side == "right"
    assert figure.layout.yaxis2.title.text == "Pulse (/min)"
    assert figure.layout.yaxis.title.text == "mmHg"
    without = bp_figure([BpPoint(utc(1, 0), 140, 90)], target=(140, 90), zone=SHANGHAI)
    assert "Pulse" not in names(without)


def test_irregular_pulse_marks_counted_readings_only() -> None:
    figure = bp_figure(BP_READINGS, target=(140, 90), zone=SHANGHAI)
    irregular = trace(figure, "Irregular pulse")
    assert list(irregular.y) == [138]  # the moved reading's flag is not believed
    assert irregular.mode == "markers"
    assert irregular.marker.symbol != trace(figure, "Systolic").marker.symbol
    assert "Irregular pulse" in irregular.text[0]
    plain = [BpPoint(utc(1, 0), 140, 90, 70)]
    assert "Irregular pulse" not in names(bp_figure(plain, target=(140, 90), zone=SHANGHAI))


def test_bp_daily_means_and_systolic_band() -> None:
    days = [
        BpDay(date(2026, 1, 1), 142.4, 86.2, 128, 155, 3),
        BpDay(date(2026, 1, 2), 138.0, 84.0, 131, 149, 2),
    ]
    figure = bp_daily_figure(days, target=(150, 90))
    assert names(figure) == [
        "Systolic range (lowest to highest)",
        "Systolic, daily mean",
        "Diastolic, daily mean",
    ]
    assert list(trace(figure, "Systolic, daily mean").y) == [142.4, 138.0]
    assert list(trace(figure, "Diastolic, daily mean").y) == [86.2, 84.0]
    upper = trace(figure, "Systolic range (lowest to highest)")
    lower = figure.data[figure.data.index(upper) - 1]
    assert list(upper.y) == [155, 149]
    assert list(lower.y) == [128, 131]
    assert upper.fill == "tonexty"
    assert list(upper.x) == [date(2026, 1, 1), date(2026, 1, 2)]
    assert set(lines_at(figure)) == {150, 90}
    hover = trace(figure, "Systolic, daily mean").text[0]
    assert "Mean 142/86 mmHg" in hover
    assert "Readings: 3" in hover


def test_choose_resolution_boundary() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert choose_resolution(start, start + timedelta(days=31)) == "readings"
    assert choose_resolution(start, start + timedelta(days=32)) == "daily"
    assert choose_resolution(start, start + timedelta(days=31, minutes=1)) == "daily"
    assert choose_resolution(start, start + timedelta(days=1)) == "readings"


GLUCOSE_READINGS = [
    GlucosePoint(utc(1, 0), 5.0, "fasting"),
    GlucosePoint(utc(1, 3), 9.9, "postprandial"),
    GlucosePoint(utc(1, 4), 3.9, "preprandial"),
    GlucosePoint(utc(1, 14), 12.0, "bedtime"),
    GlucosePoint(utc(2, 0), 6.0, "fasting", quality="control_solution"),
    GlucosePoint(utc(2, 5), 10.0, None),
    GlucosePoint(utc(2, 9), 2.8, "casual"),
]


def test_glucose_meal_groups() -> None:
    figure = glucose_figure(GLUCOSE_READINGS, zone=SHANGHAI)
    assert names(figure) == [
        "Fasting / before meal",
        "After meal",
        "Other times",
        "Not counted (data quality)",
    ]
    assert list(trace(figure, "Fasting / before meal").y) == [5.0, 3.9]
    assert list(trace(figure, "After meal").y) == [9.9]
    assert list(trace(figure, "Other times").y) == [12.0, 10.0, 2.8]
    assert list(trace(figure, "Not counted (data quality)").y) == [6.0]
    symbols = {trace(figure, n).marker.symbol for n in names(figure)}
    assert len(symbols) == 4
    fasting = trace(figure, "Fasting / before meal")
    assert fasting.text[0] == "2026-03-01 08:00<br>5.0 mmol/L<br>fasting"
    assert "before a meal" in fasting.text[1]
    assert "control solution" in trace(figure, "Not counted (data quality)").text[0]


def test_glucose_bands_from_the_guidelines() -> None:
    figure = glucose_figure(GLUCOSE_READINGS, zone=SHANGHAI)
    top = figure.layout.yaxis.range[1]
    assert bands(figure) == {
        "Severe low < 3.0": (0, 3.0),
        "Low < 3.9": (3.0, 3.9),
        "Target range 3.9-10.0": (3.9, 10.0),
        "High ≥ 13.9": (13.9, 16.7),
        "Very high ≥ 16.7": (16.7, top),
    }
    assert top >= 20
    assert lines_at(figure) == {7.0: "Fasting target < 7.0"}
    other = DEFAULT_THRESHOLDS.with_overrides({"glucose_hyper_warning": 12.0})
    changed = glucose_figure(GLUCOSE_READINGS, zone=SHANGHAI, thresholds=other)
    assert bands(changed)["High ≥ 12.0"] == (12.0, 16.7)


def test_share_in_range_counts_clean_readings() -> None:
    readings = [
        GlucosePoint(utc(1, 0), 5.0, "fasting"),
        GlucosePoint(utc(1, 1), 10.0, None),  # the ends count as in range
        GlucosePoint(utc(1, 2), 3.9, None),
        GlucosePoint(utc(1, 3), 12.0, None),
        GlucosePoint(utc(1, 4), 6.0, None, quality="implausible"),
    ]
    assert share_in_range(readings) == 0.75
    assert share_in_range(readings, low=4.0, high=10.0) == 0.5
    assert share_in_range(readings[4:]) is None
    assert share_in_range([]) is None
    figure = glucose_figure(readings, zone=SHANGHAI)
    assert figure.layout.title.subtitle.text == "In range (3.9-10.0 mmol/L): 75%"
    only_flagged = glucose_figure(readings[4:], zone=SHANGHAI)
    assert not only_flagged.layout.title.subtitle.text


MONTHS = [
    ControlMonth(date(2026, 1, 1), 0.5, 0.25, 40, 20),
    ControlMonth(date(2026, 2, 1), None, 0.3, 0, 20),
    ControlMonth(date(2026, 3, 1), 0.625, None, 48, 0),
]


def test_control_trend_in_percent_with_gaps() -> None:
    figure = control_trend_figure(MONTHS)
    assert tuple(figure.layout.yaxis.range) == (0, 100)
    assert figure.layout.yaxis.fixedrange is True
    bp = trace(figure, "Blood pressure")
    assert list(bp.y) == [50.0, None, 62.5]
    assert bp.connectgaps is False
    assert list(trace(figure, "Glucose").y) == [25.0, 30.0, None]
    assert list(bp.x) == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    assert bp.text[0] == "2026-01<br>Blood pressure controlled: 50%<br>Residents managed: 40"
    assert "Residents managed: 48" in bp.text[2]


def test_control_rates_must_be_shares() -> None:
    with pytest.raises(ValueError, match="share"):
        control_trend_figure([ControlMonth(date(2026, 1, 1), 68.0, None, 40, 0)])


def test_control_compare_grouped_horizontal_bars() -> None:
    places = [
        ControlPlace("Community A", 0.68, 0.5, 412),
        ControlPlace("Grid 3", 1.0, None, 40),
        ControlPlace("Grid 3", 0.2, 0.3, 35),  # another community's grid 3
    ]
    figure = control_compare_figure(places)
    assert figure.layout.barmode == "group"
    assert names(figure) == ["Blood pressure", "Glucose"]
    bp, glucose = trace(figure, "Blood pressure"), trace(figure, "Glucose")
    assert bp.orientation == glucose.orientation == "h"
    assert list(bp.x) == [68.0, 100.0, 20.0]
    assert list(glucose.x) == [50.0, None, 30.0]
    assert list(bp.text) == ["68%", "100%", "20%"]
    assert glucose.text[1] == ""
    assert list(bp.y) == list(glucose.y) == [0, 1, 2]
    assert list(figure.layout.yaxis.ticktext) == ["Community A", "Grid 3", "Grid 3"]
    assert figure.layout.yaxis.autorange == "reversed"  # the first place at the top
    assert "Residents managed: 412" in bp.customdata[0]
    assert tuple(figure.layout.xaxis.range) == (0, 100)


def test_sparkline_is_tiny_and_bare() -> None:
    figure = sparkline_figure([3.0, None, 5.0, 4.0])
    assert (figure.layout.width, figure.layout.height) == (120, 30)
    assert figure.layout.xaxis.visible is False
    assert figure.layout.yaxis.visible is False
    assert figure.layout.showlegend is False
    assert figure.layout.template.layout.paper_bgcolor == "white"  # plotly_white
    (line,) = figure.data
    assert list(line.y) == [3.0, None, 5.0, 4.0]
    assert line.connectgaps is False
    assert list(line.marker.size) == [2, 0, 0, 4]  # a lone value, then the last one


def test_alerts_per_week() -> None:
    weeks = [(date(2026, 3, 2), 3), (date(2026, 3, 9), 0), (date(2026, 3, 16), 5)]
    figure = alerts_per_week_figure(weeks)
    (bars,) = figure.data
    assert isinstance(bars, go.Bar)
    assert list(bars.x) == [date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)]
    assert list(bars.y) == [3, 0, 5]
    assert bars.customdata[0] == "Week of 2026-03-02<br>Alerts: 3"
    assert figure.layout.title.text == "Alerts per week"


def all_empty(gettext: Any = None) -> Iterator[go.Figure]:
    kwargs = {} if gettext is None else {"gettext": gettext}
    yield bp_figure([], target=(140, 90), zone=SHANGHAI, **kwargs)
    yield bp_daily_figure([], target=(140, 90), **kwargs)
    yield glucose_figure([], zone=SHANGHAI, **kwargs)
    yield control_trend_figure([], **kwargs)
    yield control_trend_figure([ControlMonth(date(2026, 1, 1), None, None, 0, 0)], **kwargs)
    yield control_compare_figure([], **kwargs)
    yield sparkline_figure([], **kwargs)
    yield sparkline_figure([None, None], **kwargs)
    yield alerts_per_week_figure([], **kwargs)


def test_empty_inputs_say_so() -> None:
    for figure in all_empty():
        assert [a.text for a in figure.layout.annotations] == [NO_READINGS]
        (note,) = figure.layout.annotations
        assert (note.xref, note.yref, note.x, note.y) == ("paper", "paper", 0.5, 0.5)
        assert not figure.data
        assert figure.layout.template.layout.paper_bgcolor == "white"
    for figure in all_empty(upper):
        assert figure.layout.annotations[0].text == NO_READINGS.upper()


def upper(text: str) -> str:
    """English in capitals, {placeholders} untouched."""
    return "".join(p if p.startswith("{") else p.upper() for p in re.split(r"(\{\w*\})", text))


def test_gettext_upper_cases_titles_and_legend() -> None:
    figure = bp_figure(BP_READINGS, target=(150, 90), zone=SHANGHAI, gettext=upper)
    assert figure.layout.title.text == "BLOOD PRESSURE"
    assert "SYSTOLIC" in names(figure)
    assert lines_at(figure)[150] == "TARGET SYSTOLIC 150"
    glucose = glucose_figure(GLUCOSE_READINGS, zone=SHANGHAI, gettext=upper)
    assert "AFTER MEAL" in names(glucose)
    assert "SEVERE LOW < 3.0" in bands(glucose)
    assert control_trend_figure(MONTHS, gettext=upper).layout.title.text == (
        "CONTROL RATE BY MONTH"
    )


def mark(text: str) -> str:
    return f"⟦{text}⟧"


def visible_words(figure: go.Figure) -> Iterator[str]:
    """Every text a user reads on the figure apart from numbers, dates and place names."""
    layout = figure.layout
    yield from (t for t in (layout.title.text, layout.title.subtitle.text) if t)
    for axis in ("xaxis", "yaxis", "yaxis2"):
        if axis in layout and layout[axis].title.text:
            yield layout[axis].title.text
    yield from (a.text for a in layout.annotations)
    for shape in layout.shapes:
        yield from (t for t in (shape.name, shape.label.text) if t)
    for t in figure.data:
        if t.showlegend is not False:
            yield t.name
        if t.hovertemplate and "%{text}" in t.hovertemplate:
            yield from (s for s in t.text if s)
        if t.hovertemplate and "%{customdata}" in t.hovertemplate:
            yield from (s for s in t.customdata if s)


def test_every_word_goes_through_gettext() -> None:
    places = [ControlPlace("Community A", 0.68, 0.5, 412)]
    figures = [
        bp_figure(BP_READINGS, target=(150, 90), zone=SHANGHAI, gettext=mark),
        bp_daily_figure([BpDay(date(2026, 1, 1), 142, 86, 128, 155, 3)], target=(140, 90),
                        gettext=mark),
        glucose_figure(GLUCOSE_READINGS, zone=SHANGHAI, gettext=mark),
        control_trend_figure(MONTHS, gettext=mark),
        control_compare_figure(places, gettext=mark),
        alerts_per_week_figure([(date(2026, 3, 2), 3)], gettext=mark),
        *all_empty(mark),
    ]  # fmt: skip
    for figure in figures:
        words = list(visible_words(figure))
        assert words
        untranslated = [w for w in words if "⟦" not in w]
        assert not untranslated, (figure.layout.title.text, untranslated)


def test_a_year_of_readings_is_a_handful_of_traces() -> None:
    start = utc(1, 0)
    year = [
        BpPoint(start + timedelta(hours=6 * i), 130 + i % 30, 80 + i % 10, 70, i % 97 == 0)
        for i in range(1_500)
    ]
    began = time.perf_counter()
    figure = bp_figure(year, target=(140, 90), zone=SHANGHAI)
    took = time.perf_counter() - began
    assert len(figure.data) == 4  # systolic, diastolic, pulse, irregular
    assert all(isinstance(t, go.Scatter) for t in figure.data)
    assert len(trace(figure, "Systolic").y) == 1_500
    assert took < 2.0
    huge = [BpPoint(start + timedelta(minutes=i), 130, 80) for i in range(5_001)]
    assert isinstance(bp_figure(huge, target=(140, 90), zone=SHANGHAI).data[0], go.Scattergl)


def test_one_week_of_alerts_is_shown_as_a_week_among_twelve() -> None:
    figure = alerts_per_week_figure([(date(2026, 11, 23), 2)])
    low, high = (datetime.fromisoformat(str(x)) for x in figure.layout.xaxis.range)
    assert (high - low).days >= 11 * 7
    assert figure.data[0].width == 7 * 24 * 3600 * 1000 * 0.85
