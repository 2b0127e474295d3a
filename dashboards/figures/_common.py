"""What the figure builders share: the look, the empty figure, local times, words for codes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
import plotly.io as pio

Gettext = Callable[[str], str]


def _template() -> go.layout.Template:
    """plotly_white for the traces Linli draws: built once, because a figure checks every
    part of the template it is given, and the whole of plotly_white (every trace type's
    defaults) costs about 15 ms a figure to check."""
    white = pio.templates["plotly_white"]
    drawn = ("scatter", "scattergl", "bar")
    return go.layout.Template(layout=white.layout, data={kind: white.data[kind] for kind in drawn})


TEMPLATE = _template()
MARGIN = {"l": 56, "r": 56, "t": 56, "b": 40}
WEBGL_ABOVE = 5_000  # points in one trace beyond which it is drawn with WebGL
FLAGGED_GREY = "#9e9e9e"
BAND_RANK = 2000  # shaded bands come after the traces in the legend (traces: 1000)


def identity(text: str) -> str:
    """The English text unchanged: the default `gettext`."""
    return text


def new_figure(title: str, **layout: Any) -> go.Figure:
    """An empty figure with Linli's template, margins, legend and `title`; `layout` overrides."""
    figure = go.Figure()
    figure.update_layout(
        {
            "template": TEMPLATE,
            "title": {"text": title, "x": 0.01, "xanchor": "left"},
            "margin": MARGIN,
            "legend": {
                "orientation": "h",
                "yanchor": "top",
                "y": -0.12,
                "x": 0,
                "traceorder": "normal",
            },
            **layout,
        }
    )
    return figure


def empty_figure(title: str, gettext: Gettext, **layout: Any) -> go.Figure:
    """A figure saying there is nothing to show, with its axes hidden."""
    figure = new_figure(title, **layout)
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.add_annotation(
        text=gettext("No readings in this period"),
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 14, "color": "#757575"},
    )
    return figure


def local_times(times: Iterable[datetime], zone: str) -> list[datetime]:
    """`times` as naive local times of `zone` (plotly drops offsets); ValueError if naive."""
    tz = ZoneInfo(zone)
    local = []
    for at in times:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"time {at.isoformat()} has no time zone")
        local.append(at.astimezone(tz).replace(tzinfo=None))
    return local


def stamp(local: datetime) -> str:
    """A local time as shown in hover text."""
    return local.strftime("%Y-%m-%d %H:%M")


def scatter_type(points: int) -> Any:
    """go.Scatter, or go.Scattergl for a trace too large to draw as SVG."""
    return go.Scattergl if points > WEBGL_ABOVE else go.Scatter


def mmhg(value: float) -> str:
    """A pressure or pulse as shown: whole numbers."""
    return f"{value:.0f}"


def mmol(value: float) -> str:
    """A glucose value as shown: one decimal."""
    return f"{value:.1f}"


def percent(rate: float | None) -> float | None:
    """A 0-1 rate in percent; ValueError for a rate outside 0-1 (a percent passed as rate)."""
    if rate is None:
        return None
    if not 0 <= rate <= 1:
        raise ValueError(f"rate {rate!r} is not a share from 0 to 1")
    return rate * 100


def quality_label(code: str, gettext: Gettext) -> str:
    """Words for a data-quality reason ("implausible" or rule "quality.implausible", ...)."""
    known = {
        "implausible": gettext("implausible values"),
        "device": gettext("device problem"),
        "clock": gettext("device clock wrong"),
        "control_solution": gettext("control solution"),
        "body_movement": gettext("body movement"),
        "cuff_loose": gettext("cuff loose"),
        "device_error": gettext("device error"),
        "result_too_high": gettext("above the meter's range"),
        "result_too_low": gettext("below the meter's range"),
        "clock_unset": gettext("device clock not set"),
    }
    code = code.removeprefix("quality.")
    return known.get(code, code.replace("_", " "))  # an unknown code as it is


def flagged_hover(local: datetime, values: str, code: str, gettext: Gettext) -> str:
    """Hover text of a reading that does not count, with why."""
    why = gettext("Not counted: {reason}").format(reason=quality_label(code, gettext))
    return f"{stamp(local)}<br>{values}<br>{why}"


def hline(y: float, text: str, color: str) -> dict[str, Any]:
    """A dashed horizontal line across the plot at `y`, labelled `text` at its right end."""
    return {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": y,
        "y1": y,
        "line": {"color": color, "width": 1.5, "dash": "dash"},
        "label": {
            "text": text,
            "textposition": "end",
            "yanchor": "bottom",
            "font": {"size": 11, "color": color},
        },
    }


def hband(low: float, high: float, color: str, name: str, opacity: float) -> dict[str, Any]:
    """A shaded horizontal band from `low` to `high` behind the data, named in the legend."""
    return {
        "type": "rect",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": low,
        "y1": high,
        "fillcolor": color,
        "opacity": opacity,
        "line": {"width": 0},
        "layer": "below",
        "name": name,
        "showlegend": True,
        "legendrank": BAND_RANK,
    }
