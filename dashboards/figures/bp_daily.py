"""The blood-pressure chart for long ranges: one point per local day, not per reading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

import plotly.graph_objects as go

from dashboards.figures._common import Gettext, empty_figure, identity, mmhg, new_figure
from dashboards.figures.bp import DIASTOLIC_BLUE, SYSTOLIC_RED, target_shapes, y_range
from dashboards.figures.rows import BpDay

DAILY_AFTER = timedelta(days=31)  # longer ranges are drawn as daily means


def choose_resolution(start: datetime, end: datetime) -> Literal["readings", "daily"]:
    """The resolution for a range: "daily" when longer than 31 days, else "readings"."""
    return "daily" if end - start > DAILY_AFTER else "readings"


def bp_daily_figure(
    days: Sequence[BpDay],
    *,
    target: tuple[float, float],
    gettext: Gettext = identity,
) -> go.Figure:
    """Daily mean systolic and diastolic, with each day's systolic lowest-to-highest band."""
    title = gettext("Blood pressure, daily means")
    if not days:
        return empty_figure(title, gettext)
    x = [d.day for d in days]
    text = _hover_texts(days, gettext)
    figure = new_figure(title, hovermode="closest")
    _add_systolic_band(figure, days, gettext)
    for name, values, color in (
        (gettext("Systolic, daily mean"), [d.systolic_mean for d in days], SYSTOLIC_RED),
        (gettext("Diastolic, daily mean"), [d.diastolic_mean for d in days], DIASTOLIC_BLUE),
    ):
        figure.add_trace(
            go.Scatter(
                x=x,
                y=values,
                text=text,
                name=name,
                mode="lines+markers",
                line={"color": color, "width": 2},
                marker={"size": 4},
                hovertemplate="%{text}<extra></extra>",
            )
        )
    values = [v for d in days for v in (d.systolic_min, d.systolic_max, d.diastolic_mean)]
    low, high = y_range(values, target)
    figure.update_layout(shapes=target_shapes(target, high, gettext))
    # Numbers, not month names: the plotly.js we serve knows only English ones.
    figure.update_xaxes(tickformat="%Y-%m-%d")
    figure.update_layout(yaxis={"title": {"text": gettext("mmHg")}, "range": [low, high]})
    return figure


def _add_systolic_band(figure: go.Figure, days: Sequence[BpDay], gettext: Gettext) -> None:
    """The shaded band between each day's lowest and highest systolic."""
    x = [d.day for d in days]
    figure.add_trace(  # the band's lower edge: fill="tonexty" on the next trace fills to it
        go.Scatter(
            x=x,
            y=[d.systolic_min for d in days],
            mode="lines",
            line={"width": 0, "color": SYSTOLIC_RED},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=[d.systolic_max for d in days],
            mode="lines",
            line={"width": 0, "color": SYSTOLIC_RED},
            fill="tonexty",
            fillcolor="rgba(198, 40, 40, 0.15)",
            name=gettext("Systolic range (lowest to highest)"),
            hoverinfo="skip",
        )
    )


def _hover_texts(days: Sequence[BpDay], gettext: Gettext) -> list[str]:
    """The day, its means, its systolic range and how many readings made them."""
    means = gettext("Mean {systolic}/{diastolic} mmHg")
    spread = gettext("Systolic {lowest}-{highest} mmHg")
    count = gettext("Readings: {count}")
    return [
        "<br>".join(
            (
                d.day.isoformat(),
                means.format(systolic=mmhg(d.systolic_mean), diastolic=mmhg(d.diastolic_mean)),
                spread.format(lowest=mmhg(d.systolic_min), highest=mmhg(d.systolic_max)),
                count.format(count=d.readings),
            )
        )
        for d in days
    ]
