"""The blood-pressure chart of one resident: every reading, in the resident's local time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go

from dashboards.figures._common import (
    BAND_RANK,
    FLAGGED_GREY,
    Gettext,
    empty_figure,
    flagged_hover,
    hline,
    identity,
    local_times,
    mmhg,
    new_figure,
    scatter_type,
    stamp,
)
from dashboards.figures.rows import BpPoint

SYSTOLIC_RED = "#c62828"
DIASTOLIC_BLUE = "#1565c0"
PULSE_GREY = "#78909c"
IRREGULAR_PURPLE = "#6a1b9a"
TARGET_COLOR = "#ef6c00"
PULSE_AXIS_SPAN = 2.2  # the pulse axis reaches this many times the highest pulse


def bp_figure(
    readings: Sequence[BpPoint],
    *,
    target: tuple[float, float],
    zone: str,
    gettext: Gettext = identity,
) -> go.Figure:
    """Systolic, diastolic and pulse over time against the (systolic, diastolic) target."""
    title = gettext("Blood pressure")
    if not readings:
        return empty_figure(title, gettext)
    clean = [r for r in readings if r.quality is None]
    flagged = [r for r in readings if r.quality is not None]
    figure = new_figure(title, hovermode="closest")
    _add_readings(figure, clean, zone, gettext)
    _add_flagged(figure, flagged, zone, gettext)
    low, high = y_range([v for r in readings for v in (r.systolic, r.diastolic)], target)
    figure.update_layout(shapes=target_shapes(target, high, gettext))
    # Numbers, not month names: the plotly.js we serve knows only English ones.
    figure.update_xaxes(tickformat="%m-%d %H:%M")
    figure.update_layout(yaxis={"title": {"text": gettext("mmHg")}, "range": [low, high]})
    return figure


def y_range(values: Iterable[float], target: tuple[float, float]) -> tuple[float, float]:
    """The pressure axis: every value and both target lines, with room around them."""
    shown = [*values, *target]
    return max(0.0, min(shown) - 10), max(shown) + 15


def target_shapes(target: tuple[float, float], top: float, gettext: Gettext) -> list[Any]:
    """The light shading above target systolic and dashed lines at both targets."""
    systolic, diastolic = target
    above = {
        "type": "rect",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": systolic,
        "y1": top,
        "fillcolor": TARGET_COLOR,
        "opacity": 0.07,
        "line": {"width": 0},
        "layer": "below",
        "name": gettext("Above target"),
        "showlegend": True,
        "legendrank": BAND_RANK,
    }
    return [
        above,
        hline(
            systolic,
            gettext("Target systolic {value}").format(value=mmhg(systolic)),
            TARGET_COLOR,
        ),
        hline(
            diastolic,
            gettext("Target diastolic {value}").format(value=mmhg(diastolic)),
            TARGET_COLOR,
        ),
    ]


def _add_readings(figure: go.Figure, clean: list[BpPoint], zone: str, gettext: Gettext) -> None:
    """The systolic and diastolic lines, pulse on the right axis, irregular-pulse marks."""
    x = local_times((r.at for r in clean), zone)
    text = _hover_texts(clean, x, gettext)
    scatter = scatter_type(len(clean))
    common: dict[str, Any] = {"mode": "lines+markers", "hovertemplate": "%{text}<extra></extra>"}
    for name, values, color in (
        (gettext("Systolic"), [r.systolic for r in clean], SYSTOLIC_RED),
        (gettext("Diastolic"), [r.diastolic for r in clean], DIASTOLIC_BLUE),
    ):
        figure.add_trace(
            scatter(
                x=x,
                y=values,
                text=text,
                name=name,
                line={"color": color, "width": 2},
                marker={"size": 5},
                **common,
            )
        )
    with_pulse = [i for i, r in enumerate(clean) if r.pulse is not None]
    if with_pulse:
        figure.add_trace(
            scatter(
                x=[x[i] for i in with_pulse],
                y=[clean[i].pulse for i in with_pulse],
                text=[text[i] for i in with_pulse],
                name=gettext("Pulse"),
                yaxis="y2",
                opacity=0.6,
                line={"color": PULSE_GREY, "width": 1, "dash": "dot"},
                marker={"size": 3},
                **common,
            )
        )
        figure.update_layout(
            yaxis2={
                "title": {"text": gettext("Pulse (/min)")},
                "overlaying": "y",
                "side": "right",
                "showgrid": False,
                # pulse in the middle band, between the systolic and diastolic lines
                "range": [0, _pulse_top([clean[i].pulse or 0 for i in with_pulse])],
                "tickmode": "auto",
            }
        )
    _add_irregular(figure, clean, x, text, gettext)


def _pulse_top(pulses: list[float]) -> float:
    """The top of the pulse axis: a round number, PULSE_AXIS_SPAN times the highest pulse."""
    return float(math.ceil(PULSE_AXIS_SPAN * max(pulses) / 10) * 10)


def _add_irregular(
    figure: go.Figure, clean: list[BpPoint], x: list[datetime], text: list[str], gettext: Gettext
) -> None:
    """A distinct mark on the systolic value of each reading with an irregular pulse."""
    marked = [i for i, r in enumerate(clean) if r.irregular_pulse]
    if not marked:
        return
    figure.add_trace(
        scatter_type(len(marked))(
            x=[x[i] for i in marked],
            y=[clean[i].systolic for i in marked],
            text=[text[i] for i in marked],
            name=gettext("Irregular pulse"),
            mode="markers",
            marker={
                "symbol": "diamond-wide",
                "size": 12,
                "color": IRREGULAR_PURPLE,
                "line": {"color": "white", "width": 1},
            },
            hovertemplate="%{text}<extra></extra>",
        )
    )


def _add_flagged(figure: go.Figure, flagged: list[BpPoint], zone: str, gettext: Gettext) -> None:
    """Hollow grey marks at both values of each reading that does not count; no lines."""
    if not flagged:
        return
    local = local_times((r.at for r in flagged), zone)
    values = gettext("{systolic}/{diastolic} mmHg")
    x: list[datetime] = []
    y: list[float] = []
    text: list[str] = []
    for reading, at in zip(flagged, local, strict=True):
        shown = values.format(systolic=mmhg(reading.systolic), diastolic=mmhg(reading.diastolic))
        hover = flagged_hover(at, shown, reading.quality or "", gettext)
        x += [at, at]
        y += [reading.systolic, reading.diastolic]
        text += [hover, hover]
    figure.add_trace(
        scatter_type(len(x))(
            x=x,
            y=y,
            text=text,
            name=gettext("Not counted (data quality)"),
            mode="markers",
            marker={"symbol": "circle-open", "size": 8, "color": FLAGGED_GREY},
            hovertemplate="%{text}<extra></extra>",
        )
    )


def _hover_texts(clean: list[BpPoint], local: list[datetime], gettext: Gettext) -> list[str]:
    """Local time, pressures, pulse and an irregular-pulse note for each counted reading."""
    values = gettext("{systolic}/{diastolic} mmHg")
    pulse = gettext("Pulse {pulse}/min")
    irregular = gettext("Irregular pulse")
    texts = []
    for reading, at in zip(clean, local, strict=True):
        parts = [
            stamp(at),
            values.format(systolic=mmhg(reading.systolic), diastolic=mmhg(reading.diastolic)),
        ]
        if reading.pulse is not None:
            parts.append(pulse.format(pulse=mmhg(reading.pulse)))
        if reading.irregular_pulse:
            parts.append(irregular)
        texts.append("<br>".join(parts))
    return texts
