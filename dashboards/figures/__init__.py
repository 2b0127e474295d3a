"""Plotly figures for the dashboards: pure functions from rows to `plotly.graph_objects.Figure`.

No I/O, no clock, no settings: the service queries the rows, the page renders the figure.
Every builder takes `gettext` for its words (English by default) and, where times are shown,
the IANA `zone` of the local time.
"""

from dashboards.figures._common import Gettext
from dashboards.figures.alerts import alerts_per_week_figure
from dashboards.figures.bp import bp_figure
from dashboards.figures.bp_daily import bp_daily_figure, choose_resolution
from dashboards.figures.control_compare import control_compare_figure
from dashboards.figures.control_trend import control_trend_figure
from dashboards.figures.glucose import IN_RANGE, glucose_figure, share_in_range
from dashboards.figures.rows import BpDay, BpPoint, ControlMonth, ControlPlace, GlucosePoint
from dashboards.figures.sparkline import SPARKLINE_CONFIG, sparkline_figure, sparkline_points

__all__ = [
    "IN_RANGE",
    "SPARKLINE_CONFIG",
    "BpDay",
    "BpPoint",
    "ControlMonth",
    "ControlPlace",
    "Gettext",
    "GlucosePoint",
    "alerts_per_week_figure",
    "bp_daily_figure",
    "bp_figure",
    "choose_resolution",
    "control_compare_figure",
    "control_trend_figure",
    "glucose_figure",
    "share_in_range",
    "sparkline_figure",
    "sparkline_points",
]
