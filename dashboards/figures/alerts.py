"""How many alerts were raised each week: a bar per week."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import plotly.graph_objects as go

from dashboards.figures._common import Gettext, empty_figure, identity, new_figure

WEEK_MS = 7 * 24 * 60 * 60 * 1000


def alerts_per_week_figure(
    weeks: Sequence[tuple[date, int]], *, gettext: Gettext = identity
) -> go.Figure:
    """One bar per (first day of the week, alerts) row, spanning that week."""
    title = gettext("Alerts per week")
    if not weeks:
        return empty_figure(title, gettext)
    week_of = gettext("Week of {day}")
    count = gettext("Alerts: {count}")
    figure = new_figure(title, hovermode="closest", bargap=0.15)
    figure.add_trace(
        go.Bar(
            x=[day for day, _ in weeks],
            y=[alerts for _, alerts in weeks],
            name=gettext("Alerts"),
            xperiod=WEEK_MS,
            xperiod0=weeks[0][0].isoformat(),
            xperiodalignment="middle",
            width=WEEK_MS * 0.85,  # one week's bar even when there is only one week
            customdata=[
                f"{week_of.format(day=day.isoformat())}<br>{count.format(count=alerts)}"
                for day, alerts in weeks
            ],
            hovertemplate="%{customdata}<extra></extra>",
            marker={"color": "#ef6c00"},
        )
    )
    most = max(alerts for _, alerts in weeks)
    figure.update_yaxes(
        rangemode="tozero", dtick=1 if most <= 10 else None, title_text=gettext("Alerts")
    )
    # At least twelve weeks wide, so that one week's bar looks like a week.
    last = weeks[-1][0]
    first = min(weeks[0][0], last - timedelta(weeks=11))
    figure.update_xaxes(
        title_text=gettext("Week"),
        tickformat="%Y-%m-%d",
        range=[first - timedelta(days=4), last + timedelta(days=4)],
    )
    return figure
