"""Unit conversions for readings: pressures to mmHg, glucose to mmol/L."""

from __future__ import annotations

from typing import Literal

PressureUnit = Literal["mmHg", "kPa"]
GlucoseUnit = Literal["mmol/L", "mg/dL", "mol/L", "kg/L"]

# 1 kPa = 1000 Pa / 133.322387415 Pa per mmHg.
MMHG_PER_KPA = 1000 / 133.322387415
# Molar mass of glucose C6H12O6: 180.156 g/mol, so 1 mmol/L = 18.0156 mg/dL.
MG_PER_DL_PER_MMOL_PER_L = 18.0156


def to_mmhg(value: float, unit: PressureUnit) -> float:
    """A pressure in mmHg, rounded to 0.1 mmHg (as precise as any cuff, and storable as real)."""
    return round(value * MMHG_PER_KPA if unit == "kPa" else value, 1)


def to_mmol_per_l(value: float, unit: GlucoseUnit) -> float:
    """A glucose concentration in mmol/L, rounded to 0.01 mmol/L.

    The Glucose Measurement characteristic carries kg/L or mol/L (SI); gateways may also
    send the display units mg/dL or mmol/L.
    """
    match unit:
        case "mmol/L":
            mmol = value
        case "mol/L":
            mmol = value * 1000
        case "mg/dL":
            mmol = value / MG_PER_DL_PER_MMOL_PER_L
        case "kg/L":
            mmol = value * 100_000 / MG_PER_DL_PER_MMOL_PER_L
    return round(mmol, 2)
