"""Errors of the GATT codecs: every bad packet raises a `DecodeError` saying what is wrong."""

from __future__ import annotations

from collections.abc import Callable


class DecodeError(ValueError):
    """A packet that cannot be decoded; the message names the characteristic and the fault."""


class TruncatedPacket(DecodeError):
    """The packet is shorter than its flags (or its fixed layout) require."""


class TrailingBytes(DecodeError):
    """The packet is longer than its flags (or its fixed layout) allow."""


class InvalidValue(DecodeError):
    """A field holds a value its definition does not allow (month 13, battery 150 %...)."""


class ReservedValue(DecodeError):
    """A field holds a value the specification reserves for future use."""


class UnknownCharacteristic(DecodeError):
    """No codec exists for this characteristic UUID."""


class EncodeError(ValueError):
    """A value that cannot be put on the air (out of range, not representable)."""


def check_length(name: str, data: bytes, need: int, flags: int | None = None) -> None:
    """Raise TruncatedPacket or TrailingBytes unless `data` is exactly `need` bytes long."""
    if len(data) == need:
        return
    because = f"flags 0x{flags:02X} need" if flags is not None else "expected"
    message = f"{name}: {len(data)} bytes, {because} {need}"
    raise TruncatedPacket(message) if len(data) < need else TrailingBytes(message)


def check_flagged_length(name: str, data: bytes, size_for_flags: Callable[[int], int]) -> int:
    """The flags byte of `data`, after checking the length those flags require."""
    if not data:
        raise TruncatedPacket(f"{name}: 0 bytes, at least {size_for_flags(0)} expected")
    flags = data[0]
    check_length(name, data, size_for_flags(flags), flags)
    return flags
