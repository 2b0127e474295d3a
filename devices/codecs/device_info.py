"""Battery Level 0x2A19 and Device Information Service 0x180A characteristics."""

from __future__ import annotations

from dataclasses import dataclass

from devices.codecs._wire import u8, u16, uint
from devices.codecs.errors import EncodeError, InvalidValue, ReservedValue, check_length

DIS_STRINGS: dict[int, str] = {
    0x2A29: "manufacturer_name",
    0x2A24: "model_number",
    0x2A25: "serial_number",
    0x2A27: "hardware_revision",
    0x2A26: "firmware_revision",
    0x2A28: "software_revision",
}
VENDOR_ID_SOURCES: dict[int, str] = {1: "bluetooth_sig", 2: "usb_implementers_forum"}


def decode_battery_level(data: bytes) -> int:
    """Battery Level 0x2A19: a percentage 0..100."""
    check_length("0x2A19", data, 1)
    if data[0] > 100:
        raise InvalidValue(f"0x2A19: battery level {data[0]} % above 100 %")
    return data[0]


def encode_battery_level(percent: int) -> bytes:
    """The byte of a Battery Level."""
    if not 0 <= percent <= 100:
        raise EncodeError(f"battery level {percent} % outside 0..100")
    return bytes([percent])


def decode_string(data: bytes, uuid16: int = 0x2A29) -> str:
    """A DIS string (UTF-8); trailing NUL padding, which some devices send, is dropped."""
    try:
        return bytes(data).decode("utf-8").rstrip("\x00")
    except UnicodeDecodeError as exc:
        raise InvalidValue(
            f"0x{uuid16:04X}: invalid UTF-8 at byte {exc.start} (0x{data[exc.start]:02X})"
        ) from None


def encode_string(text: str) -> bytes:
    """The UTF-8 bytes of a DIS string."""
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class SystemId:
    """System ID 0x2A23: a 40-bit manufacturer identifier and a 24-bit OUI."""

    manufacturer_identifier: int
    organizationally_unique_identifier: int


def decode_system_id(data: bytes) -> SystemId:
    """Decode System ID 0x2A23 (8 bytes, little-endian fields)."""
    check_length("0x2A23", data, 8)
    return SystemId(int.from_bytes(data[:5], "little"), int.from_bytes(data[5:], "little"))


def encode_system_id(value: SystemId) -> bytes:
    """The 8 bytes of a System ID."""
    return uint(value.manufacturer_identifier, 5, "manufacturer identifier") + uint(
        value.organizationally_unique_identifier, 3, "OUI"
    )


@dataclass(frozen=True, slots=True)
class PnpId:
    """PnP ID 0x2A50: who assigned the vendor id (1 Bluetooth SIG, 2 USB-IF), ids, version."""

    vendor_id_source: int
    vendor_id: int
    product_id: int
    product_version: int

    @property
    def vendor_id_source_name(self) -> str:
        """`bluetooth_sig` or `usb_implementers_forum`."""
        return VENDOR_ID_SOURCES[self.vendor_id_source]


def decode_pnp_id(data: bytes) -> PnpId:
    """Decode PnP ID 0x2A50 (7 bytes)."""
    check_length("0x2A50", data, 7)
    if data[0] not in VENDOR_ID_SOURCES:
        raise ReservedValue(f"0x2A50: vendor id source {data[0]} is reserved (1 or 2 expected)")
    fields = (int.from_bytes(data[i : i + 2], "little") for i in (1, 3, 5))
    return PnpId(data[0], *fields)


def encode_pnp_id(value: PnpId) -> bytes:
    """The 7 bytes of a PnP ID."""
    if value.vendor_id_source not in VENDOR_ID_SOURCES:
        raise EncodeError(f"vendor id source {value.vendor_id_source} is not 1 or 2")
    return (
        u8(value.vendor_id_source, "vendor id source")
        + u16(value.vendor_id, "vendor id")
        + u16(value.product_id, "product id")
        + u16(value.product_version, "product version")
    )
