"""Control rates of communities or grids side by side, as grouped horizontal bars."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboards.figures._common import Gettext, empty_figure, identity, new_figure, percent
from dashboards.figures.control_trend import BP_COLOR, GLUCOSE_COLOR
from dashboards.figures.rows import ControlPlace


def control_compare_figure(
    rows: Sequence[ControlPlace], *, gettext: Gettext = identity
) -> go.Figure:
    """One row per place, first at the top: blood-pressure and glucose control in percent."""
    title = gettext("Control rate by place")
    if not rows:
        return empty_figure(title, gettext)
    figure = new_figure(
        title,
        barmode="group",
        bargap=0.3,
        height=140 + 48 * len(rows),
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    )
    managed = gettext("Residents managed: {count}")
    figure.add_trace(
        _bars(
            rows,
            [r.bp_rate for r in rows],
            gettext("Blood pressure"),
            gettext("Blood pressure controlled: {percent}%"),
            managed,
            BP_COLOR,
        )
    )
    figure.add_trace(
        _bars(
            rows,
            [r.glucose_rate for r in rows],
            gettext("Glucose"),
            gettext("Glucose controlled: {percent}%"),
            managed,
            GLUCOSE_COLOR,
        )
    )
    positions = list(range(len(rows)))  # not the names: two grids may share a name
    figure.update_yaxes(
        tickmode="array",
        tickvals=positions,
        ticktext=[r.name for r in rows],
        autorange="reversed",
    )
    figure.update_xaxes(range=[0, 100], ticksuffix="%", title_text=gettext("Controlled (%)"))
    return figure


def _bars(
    rows: Sequence[ControlPlace],
    rates: list[float | None],
    name: str,
    controlled: str,
    managed: str,
    color: str,
) -> go.Bar:
    """One series of bars, at positions 0, 1, ...; a place without a rate has no bar."""
    whole = ["" if s is None else f"{s:.0f}" for s in (percent(rate) for rate in rates)]
    hover = [
        "<br>".join(
            (r.name, controlled.format(percent=w), managed.format(count=r.managed))
            if w
            else (r.name, managed.format(count=r.managed))
        )
        for r, w in zip(rows, whole, strict=True)
    ]
    return go.Bar(
        x=[percent(rate) for rate in rates],
        y=list(range(len(rows))),
        orientation="h",
        name=name,
        text=[f"{w}%" if w else "" for w in whole],
        textposition="outside",
        cliponaxis=False,
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        marker={"color": color},
    )
