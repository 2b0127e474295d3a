"""What every emulated device shares: a bumble device on a LocalLink, DIS, BAS and CTS,
advertising, connection tracking and the optional encryption requirement.

bumble does not enforce properties or permissions on plain reads and writes, so every value
here goes through handlers that refuse what a real device refuses (ATT errors), and the
CCCDs are our own so that they too can demand an encrypted link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from bumble import att, gatt
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.data_types import CompleteListOf16BitServiceUUIDs, CompleteLocalName, Flags
from bumble.device import Connection, Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from devices.codecs import (
    DecodeError,
    SystemId,
    encode_battery_level,
    encode_current_time,
    encode_string,
    encode_system_id,
)
from devices.codecs.date_time import decode_current_time
from devices.emulation.clock import DeviceClock

logger = logging.getLogger(__name__)

Props = gatt.Characteristic.Properties
Perms = gatt.Characteristic.Permissions
ErrorCode = att.ErrorCode
CCCD_UUID = gatt.GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR
DEFAULT_ADVERTISING_INTERVAL_MS = 20.0


def uuid16(value: int) -> UUID:
    """A bumble UUID from a 16-bit assigned number."""
    return UUID.from_16_bits(value)


def _constant(value: bytes) -> Callable[[], bytes]:
    return lambda: value


def connection_of(bearer: att.Bearer) -> Connection:
    """The ACL connection of an ATT bearer (plain or enhanced)."""
    return bearer.connection if att.is_enhanced_bearer(bearer) else bearer


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What a central needs to find and name an emulated device."""

    name: str
    address: str
    kind: str
    service_uuids: tuple[int, ...]


class DeviceSettings(TypedDict, total=False):
    """Settings every emulated device takes (see EmulatedDevice)."""

    address: str | None
    manufacturer: str
    model: str
    serial: str
    firmware: str
    battery_percent: int
    require_encryption: bool
    cts_writable: bool
    clock: DeviceClock | None


class EmulatedDevice:
    """Base of the emulated monitor and meter: build with settings, then `await start(link)`.

    `require_encryption` (switchable at any time) makes the profile characteristics, their
    CCCDs and CTS answer ATT 0x0F until the link is encrypted (pairing); DIS and BAS stay
    open, as on most real devices. `cts_writable` decides whether Current Time accepts writes.
    """

    kind: ClassVar[str] = "device"
    service_uuid: ClassVar[int] = 0

    def __init__(
        self,
        name: str,
        *,
        address: str | None = None,
        manufacturer: str = "Linli Emulated",
        model: str = "EMU-1",
        serial: str = "EMU-0001",
        firmware: str = "1.0.0",
        battery_percent: int = 87,
        require_encryption: bool = False,
        cts_writable: bool = True,
        clock: DeviceClock | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.manufacturer = manufacturer
        self.model = model
        self.serial = serial
        self.firmware = firmware
        self.battery_percent = battery_percent
        self.require_encryption = require_encryption
        self.cts_writable = cts_writable
        self.clock = clock or DeviceClock()
        self.connections: list[Connection] = []
        self._device: Device | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def device(self) -> Device:
        """The bumble device (after `start`)."""
        if self._device is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._device

    @property
    def info(self) -> DeviceInfo:
        """Name, address, kind and advertised services (after `start`)."""
        assert self.address is not None
        return DeviceInfo(self.name, self.address, self.kind, (self.service_uuid,))

    async def start(
        self, link: LocalLink, advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS
    ) -> DeviceInfo:
        """Attach to `link` (inside the running loop), power on and start advertising."""
        # No public address: bonds are then stored under the random address a central
        # connects to (a public one would become the identity address and break re-encryption).
        controller = Controller(f"{self.name} controller", link=link)
        address = Address(self.address) if self.address else Address.generate_static_address()
        self.address = str(address)
        self._device = Device(
            name=self.name, address=address, host=Host(controller, AsyncPipeSink(controller))
        )
        self._device.add_services([*self.profile_services(), *self.common_services()])
        self._device.on(self._device.EVENT_CONNECTION, self._on_connection)
        await self._device.power_on()
        advertising = AdvertisingData(
            [
                Flags(
                    AdvertisingData.Flags.LE_GENERAL_DISCOVERABLE_MODE
                    | AdvertisingData.Flags.BR_EDR_NOT_SUPPORTED
                ),
                CompleteListOf16BitServiceUUIDs([uuid16(self.service_uuid)]),
                CompleteLocalName(self.name),
            ]
        )
        await self._device.start_advertising(
            advertising_data=bytes(advertising),
            auto_restart=True,
            advertising_interval_min=advertising_interval_ms,
            advertising_interval_max=advertising_interval_ms,
        )
        return self.info

    async def stop(self) -> None:
        """Cancel running procedures, drop the links, stop advertising and power off."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._device is None:
            return
        for connection in list(self.connections):
            await connection.disconnect()
        await self._device.stop_advertising()
        await self._device.power_off()

    def profile_services(self) -> list[gatt.Service]:
        """The device's own services (BPS, GLS), built by subclasses."""
        return []

    def on_connected(self, connection: Connection) -> None:
        """Called when a central connects (subclasses add their state)."""

    def on_disconnected(self, connection: Connection) -> None:
        """Called when a central disconnects (subclasses drop their state)."""

    def _on_connection(self, connection: Connection) -> None:
        self.connections.append(connection)
        self.on_connected(connection)

        def gone(*_: Any) -> None:
            if connection in self.connections:
                self.connections.remove(connection)
            self.on_disconnected(connection)

        connection.on(connection.EVENT_DISCONNECTION, gone)

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` as a task of this device (cancelled on stop)."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- access control -------------------------------------------------------------

    def check_security(self, bearer: att.Bearer) -> None:
        """Raise ATT 0x0F (insufficient encryption) while encryption is required and absent."""
        if self.require_encryption and not connection_of(bearer).is_encrypted:
            raise att.ATT_Error(ErrorCode.INSUFFICIENT_ENCRYPTION)

    def value(
        self,
        read: Callable[[], bytes] | None = None,
        write: Callable[[Connection, bytes], None] | None = None,
        *,
        protected: bool = False,
    ) -> gatt.CharacteristicValue[bytes]:
        """A characteristic value that refuses what it does not allow, like a real device.

        Without `read` (or `write`) the access fails with READ_ (WRITE_) NOT_PERMITTED; when
        `protected`, any access fails with INSUFFICIENT_ENCRYPTION while that is required.
        """

        def on_read(connection: Connection) -> bytes:
            if read is None:
                raise att.ATT_Error(ErrorCode.READ_NOT_PERMITTED)
            if protected:
                self.check_security(connection)
            return read()

        def on_write(connection: Connection, data: bytes) -> None:
            if write is None:
                raise att.ATT_Error(ErrorCode.WRITE_NOT_PERMITTED)
            if protected:
                self.check_security(connection)
            write(connection, bytes(data))

        return gatt.CharacteristicValue(read=on_read, write=on_write)

    def characteristic(
        self,
        uuid: int,
        properties: Props,
        value: gatt.CharacteristicValue[bytes],
        *,
        protected_cccd: bool = False,
    ) -> gatt.Characteristic[bytes]:
        """A characteristic; with `protected_cccd` its CCCD demands encryption when required."""
        characteristic: gatt.Characteristic[bytes] = gatt.Characteristic(
            uuid16(uuid), properties, Perms.READABLE | Perms.WRITEABLE, value
        )
        if protected_cccd and properties & (Props.NOTIFY | Props.INDICATE):
            characteristic.descriptors = [self._cccd(characteristic)]
        return characteristic

    def _cccd(self, characteristic: gatt.Characteristic[bytes]) -> gatt.Descriptor:
        def read(bearer: att.Bearer) -> bytes:
            self.check_security(bearer)
            return self.device.gatt_server.read_cccd(bearer, characteristic)

        def write(bearer: att.Bearer, value: bytes) -> None:
            self.check_security(bearer)
            self.device.gatt_server.write_cccd(bearer, characteristic, bytes(value))

        return gatt.Descriptor(
            CCCD_UUID, Perms.READABLE | Perms.WRITEABLE, att.AttributeValueV2(read, write)
        )

    def subscribed(self, connection: Connection, characteristic: gatt.Characteristic[bytes]) -> int:
        """The CCCD bits this connection wrote for `characteristic` (1 notify, 2 indicate)."""
        cccd = self.device.gatt_server.read_cccd(connection, characteristic)
        return int.from_bytes(cccd[:2], "little") if cccd else 0

    # --- DIS, BAS, CTS ----------------------------------------------------------------

    def common_services(self) -> list[gatt.Service]:
        """Device Information, Battery and Current Time services."""
        strings = {
            0x2A29: encode_string(self.manufacturer),
            0x2A24: encode_string(self.model),
            0x2A25: encode_string(self.serial),
            0x2A26: encode_string(self.firmware),
        }
        strings[0x2A23] = encode_system_id(SystemId(0x0102030405, 0x00A0C6))
        dis = [
            self.characteristic(uuid, Props.READ, self.value(_constant(value)))
            for uuid, value in strings.items()
        ]
        battery = self.characteristic(
            0x2A19,
            Props.READ | Props.NOTIFY,
            self.value(lambda: encode_battery_level(self.battery_percent)),
        )
        cts_props = Props.READ | Props.NOTIFY | (Props.WRITE if self.cts_writable else Props(0))
        current_time = self.characteristic(
            0x2A2B,
            cts_props,
            self.value(self._read_time, self._write_time, protected=True),
            protected_cccd=True,
        )
        return [
            gatt.Service(uuid16(0x180A), dis),
            gatt.Service(uuid16(0x180F), [battery]),
            gatt.Service(uuid16(0x1805), [current_time]),
        ]

    def _read_time(self) -> bytes:
        return encode_current_time(self.clock.current_time())

    def _write_time(self, connection: Connection, data: bytes) -> None:
        if not self.cts_writable:
            raise att.ATT_Error(ErrorCode.WRITE_NOT_PERMITTED)
        if len(data) != 10:
            raise att.ATT_Error(ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        try:
            written = decode_current_time(data)
        except DecodeError as exc:
            logger.info("%s: refused Current Time write %s: %s", self.name, data.hex(), exc)
            raise att.ATT_Error(ErrorCode.OUT_OF_RANGE) from exc
        self.clock.set(written.date_time)
