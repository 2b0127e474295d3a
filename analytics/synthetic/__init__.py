"""A synthetic cohort of elderly residents measuring at home, for benchmarks and the demo.

`draw_profile` draws one resident (levels, habits, planned events; `profiles` documents where
every figure comes from) and `resident_track` turns the profile into time-stamped readings.
The same generator state gives the same resident; numpy only.
"""

from analytics.synthetic.glucose import resident_track
from analytics.synthetic.profiles import draw_profile
from analytics.synthetic.sim import (
    BP,
    DAY,
    FLAG_NAMES,
    GLUCOSE,
    HOUR,
    MEALS,
    BpEpisode,
    Drift,
    GlucoseEpisode,
    Habit,
    Period,
    Profile,
    Track,
    Window,
)

__all__ = [
    "BP",
    "DAY",
    "FLAG_NAMES",
    "GLUCOSE",
    "HOUR",
    "MEALS",
    "BpEpisode",
    "Drift",
    "GlucoseEpisode",
    "Habit",
    "Period",
    "Profile",
    "Track",
    "Window",
    "draw_profile",
    "resident_track",
]
