"""Month-by-month control rates of a community or grid: blood pressure and glucose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import plotly.graph_objects as go

from dashboards.figures._common import Gettext, empty_figure, identity, new_figure, percent
from dashboards.figures.rows import ControlMonth

BP_COLOR = "#c62828"
GLUCOSE_COLOR = "#1565c0"


def control_trend_figure(
    months: Sequence[ControlMonth], *, gettext: Gettext = identity
) -> go.Figure:
    """Control rates in percent by month (0-100 fixed); a month without a rate is a gap."""
    title = gettext("Control rate by month")
    if all(m.bp_rate is None and m.glucose_rate is None for m in months):
        return empty_figure(title, gettext)
    figure = new_figure(title, hovermode="closest")
    managed = gettext("Residents managed: {count}")
    x = [m.month for m in months]
    series = (
        (
            gettext("Blood pressure"),
            gettext("Blood pressure controlled: {percent}%"),
            [(m.bp_rate, m.bp_managed) for m in months],
            BP_COLOR,
        ),
        (
            gettext("Glucose"),
            gettext("Glucose controlled: {percent}%"),
            [(m.glucose_rate, m.glucose_managed) for m in months],
            GLUCOSE_COLOR,
        ),
    )
    for name, controlled, values, color in series:
        y = [percent(rate) for rate, _ in values]
        text = [
            _hover(month, share, count, controlled, managed)
            for month, share, (_, count) in zip(x, y, values, strict=True)
        ]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=y,
                text=text,
                name=name,
                mode="lines+markers",
                connectgaps=False,
                cliponaxis=False,
                line={"color": color, "width": 2},
                marker={"size": 6},
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_yaxes(
        range=[0, 100], fixedrange=True, ticksuffix="%", title_text=gettext("Controlled (%)")
    )
    figure.update_xaxes(tickformat="%Y-%m", dtick="M1" if len(months) <= 12 else "M3")
    return figure


def _hover(month: date, share: float | None, count: int, controlled: str, managed: str) -> str:
    """The month, its control rate and how many were managed; empty for a gap."""
    if share is None:
        return ""
    return "<br>".join(
        (f"{month:%Y-%m}", controlled.format(percent=f"{share:.0f}"), managed.format(count=count))
    )
