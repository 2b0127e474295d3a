"""Little-endian field readers and writers shared by the codecs (private)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

from devices.codecs.errors import EncodeError, TrailingBytes, TruncatedPacket
from devices.codecs.sfloat import SFloat, encode_sfloat, sfloat_from_word


class Reader:
    """Reads fields in order from one packet; running past its end raises TruncatedPacket."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.data = bytes(data)
        self.pos = 0

    def take(self, size: int) -> bytes:
        """The next `size` bytes."""
        end = self.pos + size
        if end > len(self.data):
            raise TruncatedPacket(
                f"{self.name}: {len(self.data)} bytes, field at {self.pos} needs {size}"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        """An unsigned byte."""
        return self.take(1)[0]

    def u16(self) -> int:
        """An unsigned little-endian 16-bit integer."""
        return int.from_bytes(self.take(2), "little")

    def s16(self) -> int:
        """A signed little-endian 16-bit integer."""
        return int.from_bytes(self.take(2), "little", signed=True)

    def uint(self, size: int) -> int:
        """An unsigned little-endian integer of `size` bytes."""
        return int.from_bytes(self.take(size), "little")

    def sfloat(self) -> SFloat:
        """An IEEE-11073 SFLOAT."""
        return sfloat_from_word(self.u16())

    def end(self) -> None:
        """Check that every byte was read."""
        if self.pos != len(self.data):
            raise TrailingBytes(f"{self.name}: {len(self.data)} bytes, expected {self.pos}")


def u8(value: int, what: str) -> bytes:
    """One unsigned byte, or EncodeError naming `what`."""
    return uint(value, 1, what)


def u16(value: int, what: str) -> bytes:
    """A little-endian uint16, or EncodeError naming `what`."""
    return uint(value, 2, what)


def uint(value: int, size: int, what: str) -> bytes:
    """A little-endian unsigned integer of `size` bytes, or EncodeError naming `what`."""
    if not 0 <= value < 1 << (8 * size):
        raise EncodeError(f"{what} {value} does not fit in {size} unsigned byte(s)")
    return value.to_bytes(size, "little")


def s16(value: int, what: str) -> bytes:
    """A little-endian sint16, or EncodeError naming `what`."""
    if not -0x8000 <= value <= 0x7FFF:
        raise EncodeError(f"{what} {value} does not fit in a sint16")
    return value.to_bytes(2, "little", signed=True)


def sfloat(value: SFloat | float) -> bytes:
    """An SFLOAT (a plain number gets the exponent of smallest magnitude that fits)."""
    return encode_sfloat(value)


def code_of(names: dict[int, str], name: str, what: str) -> int:
    """The code whose name is `name` in `names`, or EncodeError."""
    for code, known in names.items():
        if known == name:
            return code
    raise EncodeError(f"unknown {what} {name!r}; expected one of {sorted(set(names.values()))}")


@dataclass(frozen=True, slots=True)
class BitField:
    """Base of frozen dataclasses whose boolean fields are bits 0, 1, 2... of an integer.

    A subclass may end with an `int` field `reserved_bits` holding the bits it does not name,
    so that decoding and encoding again gives the same bytes.
    """

    @classmethod
    def bit_names(cls) -> tuple[str, ...]:
        """The names of the boolean fields, bit 0 first."""
        return tuple(f.name for f in fields(cls) if f.name != "reserved_bits")

    @classmethod
    def from_int(cls, value: int) -> Self:
        """The named booleans of `value` (unnamed bits kept in `reserved_bits` if present)."""
        names = cls.bit_names()
        values: dict[str, Any] = {name: bool(value >> bit & 1) for bit, name in enumerate(names)}
        if any(f.name == "reserved_bits" for f in fields(cls)):
            values["reserved_bits"] = value & ~((1 << len(names)) - 1)
        return cls(**values)

    def to_int(self) -> int:
        """The integer whose bits these are."""
        names = self.bit_names()
        value = sum(1 << bit for bit, name in enumerate(names) if getattr(self, name))
        return value | getattr(self, "reserved_bits", 0)

    def set_names(self) -> tuple[str, ...]:
        """The names of the bits that are set, in bit order."""
        return tuple(name for name in self.bit_names() if getattr(self, name))

    def as_dict(self) -> dict[str, bool]:
        """Every named bit as a boolean."""
        return {name: bool(getattr(self, name)) for name in self.bit_names()}
