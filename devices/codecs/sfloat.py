"""IEEE-11073 16-bit SFLOAT ("medfloat16"): mantissa × 10^exponent in one little-endian word.

The special values (NaN, NRes, ±INFINITY, reserved) never become numbers: a decoded SFLOAT
carries either a number or the special's name. The special is recognised from the 12-bit
mantissa alone, whatever the exponent, because some encoders set an exponent on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from devices.codecs.errors import EncodeError, TrailingBytes, TruncatedPacket

Special = Literal["nan", "nres", "positive_infinity", "negative_infinity", "reserved"]

SPECIAL_BY_MANTISSA: dict[int, Special] = {
    0x7FF: "nan",
    0x800: "nres",
    0x7FE: "positive_infinity",
    0x802: "negative_infinity",
    0x801: "reserved",
}
WORD_BY_SPECIAL: dict[Special, int] = {name: raw for raw, name in SPECIAL_BY_MANTISSA.items()}

# 0x7FE..0x802 as 12-bit two's complement are +2046, +2047, -2048, -2047, -2046: all special.
MANTISSA_MIN = -2045
MANTISSA_MAX = 2045
EXPONENT_MIN = -8
EXPONENT_MAX = 7


@dataclass(frozen=True, slots=True)
class SFloat:
    """A decoded SFLOAT: a number (`value`) or a special (`special`), never both.

    `exponent` is the decimal exponent the device used (its resolution); it does not take
    part in equality, so `SFloat(16.0)` equals the decoded `A0 F0` (160 × 10^-1).
    """

    value: float | None
    special: Special | None = None
    exponent: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.value is None) == (self.special is None):
            raise ValueError("an SFloat is either a number or a special, not both or neither")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError("non-finite numbers are specials: use SFloat.of(math.nan) etc.")

    @classmethod
    def of(cls, value: float, exponent: int | None = None) -> SFloat:
        """An SFloat holding `value` (checked to be representable; NaN/±inf become specials)."""
        if math.isnan(value):
            return cls(None, "nan", 0)
        if math.isinf(value):
            return cls(None, "positive_infinity" if value > 0 else "negative_infinity", 0)
        mantissa, exp = split(value, exponent)
        return cls(_number(mantissa, exp), None, exp)

    @classmethod
    def nan(cls) -> SFloat:
        """The NaN special ("not a number", e.g. a mean arterial pressure not computed)."""
        return cls(None, "nan", 0)

    @property
    def is_number(self) -> bool:
        """True when the SFloat holds a number rather than a special."""
        return self.value is not None


def _number(mantissa: int, exponent: int) -> float:
    # Division by an exact power of ten is correctly rounded: 107 / 10 gives 10.7, while
    # 107 * 0.1 would give 10.700000000000001.
    return float(mantissa * 10**exponent) if exponent >= 0 else mantissa / 10**-exponent


def split(value: float, exponent: int | None = None) -> tuple[int, int]:
    """Mantissa and exponent representing `value` exactly (raise EncodeError if impossible).

    Without `exponent`, the exponent of smallest magnitude that fits is chosen: 120 → (120, 0),
    0.00105 → (105, -5), 2500 → (250, 1).
    """
    if not math.isfinite(value):
        raise EncodeError(f"SFLOAT: {value} is not a finite number")
    exact = Decimal(repr(float(value)))
    if exponent is not None:
        candidates = [exponent]
        if not EXPONENT_MIN <= exponent <= EXPONENT_MAX:
            raise EncodeError(f"SFLOAT: exponent {exponent} outside {EXPONENT_MIN}..{EXPONENT_MAX}")
    else:
        candidates = sorted(range(EXPONENT_MIN, EXPONENT_MAX + 1), key=lambda e: (abs(e), e))
    for exp in candidates:
        scaled = exact.scaleb(-exp)
        if scaled == scaled.to_integral_value() and MANTISSA_MIN <= scaled <= MANTISSA_MAX:
            return int(scaled), exp
    at = f" with exponent {exponent}" if exponent is not None else ""
    raise EncodeError(f"SFLOAT: {value} cannot be represented exactly{at}")


def sfloat_from_word(word: int) -> SFloat:
    """Decode a 16-bit SFLOAT word (specials checked before any arithmetic)."""
    mantissa = word & 0x0FFF
    exponent = (word >> 12) & 0x0F
    if exponent >= 8:
        exponent -= 16
    special = SPECIAL_BY_MANTISSA.get(mantissa)
    if special is not None:
        return SFloat(None, special, exponent)
    if mantissa >= 0x800:
        mantissa -= 0x1000
    return SFloat(_number(mantissa, exponent), None, exponent)


def sfloat_to_word(value: SFloat | float) -> int:
    """The 16-bit word of an SFloat (its exponent kept) or of a plain number."""
    if not isinstance(value, SFloat):
        value = SFloat.of(value)
    if value.special is not None:
        return WORD_BY_SPECIAL[value.special]
    assert value.value is not None  # guaranteed by SFloat.__post_init__
    mantissa, exponent = split(value.value, value.exponent)
    return ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)


def decode_sfloat(data: bytes) -> SFloat:
    """Decode two little-endian bytes as an SFLOAT."""
    if len(data) != 2:
        error = TruncatedPacket if len(data) < 2 else TrailingBytes
        raise error(f"SFLOAT: {len(data)} bytes, expected 2")
    return sfloat_from_word(int.from_bytes(data, "little"))


def encode_sfloat(value: SFloat | float, exponent: int | None = None) -> bytes:
    """Two little-endian bytes for `value`; `exponent` forces a resolution (16.0 → A0 F0)."""
    if exponent is not None and not isinstance(value, SFloat):
        value = SFloat.of(value, exponent)
    return sfloat_to_word(value).to_bytes(2, "little")
