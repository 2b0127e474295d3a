"""A tiny trend line for a cell of the panel table: no axes, no legend, no hover."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from dashboards.figures._common import TEMPLATE, Gettext, empty_figure, identity

WIDTH, HEIGHT = 120, 30  # px
# Render sparklines with this config: a static picture, without the mode bar.
SPARKLINE_CONFIG: dict[str, Any] = {"staticPlot": True, "displayModeBar": False}
_LAYOUT: dict[str, Any] = {
    "template": TEMPLATE,
    "width": WIDTH,
    "height": HEIGHT,
    "margin": {"l": 2, "r": 2, "t": 2, "b": 2, "pad": 0},
    "showlegend": False,
    "hovermode": False,
    "dragmode": False,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
}


def sparkline_figure(
    values: Sequence[float | None], *, color: str = "#455a64", gettext: Gettext = identity
) -> go.Figure:
    """`values` in order as a 120x30 px line, None as gaps, the last value marked."""
    present = [i for i, v in enumerate(values) if v is not None]
    if not present:
        figure = empty_figure("", gettext, **_LAYOUT)
        figure.update_annotations(font_size=7)
        return figure
    last = present[-1]
    shown = [v for v in values if v is not None]
    low, high = min(shown), max(shown)
    pad = (high - low) * 0.15 or 1.0
    figure = go.Figure(
        go.Scatter(
            x=list(range(len(values))),
            y=list(values),
            mode="lines+markers",
            connectgaps=False,
            line={"color": color, "width": 1.5},
            marker={"color": color, "size": _marker_sizes(values, last)},
            hoverinfo="skip",
        )
    )
    figure.update_layout(_LAYOUT)
    figure.update_xaxes(visible=False, range=[-0.5, len(values) - 0.5], fixedrange=True)
    figure.update_yaxes(visible=False, range=[low - pad, high + pad], fixedrange=True)
    return figure


def _marker_sizes(values: Sequence[float | None], last: int) -> list[int]:
    """A dot for the last value and for a value between gaps (no line shows it); else none."""
    sizes = []
    for i, value in enumerate(values):
        alone = (i == 0 or values[i - 1] is None) and (
            i + 1 >= len(values) or values[i + 1] is None
        )
        sizes.append(4 if i == last else 2 if value is not None and alone else 0)
    return sizes


def sparkline_points(
    values: Sequence[float | None], width: int = 120, height: int = 28
) -> list[str]:
    """SVG polyline point lists ("x,y x,y ...") of a small trend, one per unbroken run:
    light enough for a table of fifty residents, where a plotly figure each would not be."""
    known = [v for v in values if v is not None]
    if not known or len(values) < 2:
        return []
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    runs: list[list[str]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        y = height - 2 - (value - low) / span * (height - 4)
        runs[-1].append(f"{index * step:.1f},{y:.1f}")
    return [" ".join(run) for run in runs if run]
