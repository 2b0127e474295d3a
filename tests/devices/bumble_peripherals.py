"""Small bumble peripherals for testing the bleak-over-bumble backend.

`GattPeripheral` exposes one of each kind of characteristic a collector meets: readable and
writable, notify, indicate-only (BPM 0x2A35 under BPS 0x1810), notify-or-indicate, one whose
handlers answer ATT 0x80, and one that needs an encrypted link.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.uuids import normalize_uuid_str
from bumble import att, gatt
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.keys import PairingKeys
from bumble.pairing import PairingConfig, PairingDelegate

from devices.bumble_backend import BumbleRadio

Props = gatt.Characteristic.Properties
Perms = gatt.Characteristic.Permissions

TEST_SERVICE = "5a1e0000-8f6c-4b7e-9d3a-1c2b3d4e5f60"
RW_CHAR = "5a1e0001-8f6c-4b7e-9d3a-1c2b3d4e5f60"
NOTIFY_CHAR = "5a1e0002-8f6c-4b7e-9d3a-1c2b3d4e5f60"
BOTH_CHAR = "5a1e0003-8f6c-4b7e-9d3a-1c2b3d4e5f60"
FAILING_CHAR = "5a1e0004-8f6c-4b7e-9d3a-1c2b3d4e5f60"
SECRET_CHAR = "5a1e0005-8f6c-4b7e-9d3a-1c2b3d4e5f60"
STALLING_CHAR = "5a1e0006-8f6c-4b7e-9d3a-1c2b3d4e5f60"
BLOOD_PRESSURE_SERVICE = 0x1810
BPM_CHAR = normalize_uuid_str("2a35")
APPLICATION_ERROR = 0x80
MANUFACTURER_ID = 0x0F0F
ADVERTISING_INTERVAL_MS = 20.0
NOTE_DESCRIPTOR = "5a1e00ff-8f6c-4b7e-9d3a-1c2b3d4e5f60"


@dataclass
class Subscription:
    """What the central last wrote into a CCCD (as seen by the peripheral)."""

    notify: bool
    indicate: bool


@dataclass
class GattPeripheral:
    """A bumble peripheral with the characteristics the backend must handle."""

    name: str
    address: str
    tx_power: int = -8
    advertised_service: int | None = BLOOD_PRESSURE_SERVICE
    service_data: bytes = b"\x01\x02"
    writes: list[bytes] = field(default_factory=list)
    failing_writes: list[bytes] = field(default_factory=list)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    rw_value: bytes = b"\x00"
    _device: Device | None = None
    _chars: dict[str, gatt.Characteristic[bytes]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    stalled_reads: int = 0

    @property
    def device(self) -> Device:
        """The bumble device (after `start`)."""
        assert self._device is not None, "start the peripheral first"
        return self._device

    async def start(
        self, radio: BumbleRadio, passkey_delegate: PairingDelegate | None = None
    ) -> None:
        """Join the radio, power on and advertise every 20 ms."""
        device = radio.add_device(self.name, self.address)
        device.add_services(self._services())
        if passkey_delegate is not None:
            delegate = passkey_delegate
            device.pairing_config_factory = lambda _c: PairingConfig(delegate=delegate)
        device.on("characteristic_subscription", self._on_subscription)
        self._device = device
        await device.power_on()
        await self.advertise()

    async def advertise(self) -> None:
        """(Re)start connectable advertising, restarted after each disconnection."""
        await self.device.start_advertising(
            advertising_data=bytes(self.advertising_data()),
            auto_restart=True,
            advertising_interval_min=ADVERTISING_INTERVAL_MS,
            advertising_interval_max=ADVERTISING_INTERVAL_MS,
        )

    async def stop_advertising(self) -> None:
        """Go silent, like a cuff that turned its radio off."""
        await self.device.stop_advertising()

    def advertising_data(self) -> AdvertisingData:
        """Flags, name, the advertised service and its data, manufacturer data, TX power."""
        structures = [
            (AdvertisingData.FLAGS, bytes([0x06])),
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
            (
                AdvertisingData.MANUFACTURER_SPECIFIC_DATA,
                MANUFACTURER_ID.to_bytes(2, "little") + b"linli",
            ),
            (AdvertisingData.TX_POWER_LEVEL, self.tx_power.to_bytes(1, "little", signed=True)),
        ]
        if self.advertised_service is not None:
            service = UUID.from_16_bits(self.advertised_service).to_bytes()
            structures += [
                (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, service),
                (AdvertisingData.SERVICE_DATA_16_BIT_UUID, service + self.service_data),
            ]
        return AdvertisingData(structures)

    def characteristic(self, uuid: str) -> gatt.Characteristic[bytes]:
        """The server-side characteristic with this UUID (as in the constants above)."""
        return self._chars[uuid]

    @property
    def connections(self) -> list[Connection]:
        """The peripheral's open connections."""
        return list(self.device.connections.values())

    async def notify(self, uuid: str, *values: bytes) -> None:
        """Notify every subscriber of `uuid`, one value after another."""
        for value in values:
            await self.device.notify_subscribers(self.characteristic(uuid), value)

    async def indicate(self, uuid: str, *values: bytes) -> None:
        """Indicate each value, waiting for each confirmation."""
        for value in values:
            await self.device.indicate_subscribers(self.characteristic(uuid), value)

    async def wait_for(self, condition: str, seconds: float = 2.0) -> None:
        """Wait until a write, read or subscription change makes `condition` true."""
        async with asyncio.timeout(seconds):
            while not self._holds(condition):
                self._changed.clear()
                await self._changed.wait()

    def _holds(self, condition: str) -> bool:
        kind, _, uuid = condition.partition(":")
        if kind == "subscribed":
            found = self.subscriptions.get(uuid)
            return found is not None and (found.notify or found.indicate)
        if kind == "unsubscribed":
            found = self.subscriptions.get(uuid)
            return found is not None and not (found.notify or found.indicate)
        if kind == "written":
            return bool(self.writes)
        if kind == "failing-written":
            return bool(self.failing_writes)
        if kind == "stalled":
            return self.stalled_reads > 0
        raise ValueError(condition)

    def _on_subscription(
        self,
        _connection: Connection,
        characteristic: gatt.Characteristic[bytes],
        notify: bool,
        indicate: bool,
    ) -> None:
        for uuid, known in self._chars.items():
            if known is characteristic:
                self.subscriptions[uuid] = Subscription(notify, indicate)
        self._changed.set()

    def _write_rw(self, _connection: Connection, value: bytes) -> None:
        self.rw_value = bytes(value)
        self.writes.append(bytes(value))
        self._changed.set()

    def _read_failing(self, _connection: Connection) -> bytes:
        raise att.ATT_Error(APPLICATION_ERROR)

    def _write_failing(self, _connection: Connection, value: bytes) -> None:
        # Recorded before refusing: a Write Command reaches the handler, its error goes nowhere.
        self.failing_writes.append(bytes(value))
        self._changed.set()
        raise att.ATT_Error(APPLICATION_ERROR)

    async def _read_stalling(self, _connection: Connection) -> bytes:
        # Never answers: the central's read stays pending until the link goes.
        self.stalled_reads += 1
        self._changed.set()
        await asyncio.Event().wait()
        return b""

    def _services(self) -> list[gatt.Service]:
        rw = gatt.CharacteristicValue(read=lambda _c: self.rw_value, write=self._write_rw)
        failing = gatt.CharacteristicValue(read=self._read_failing, write=self._write_failing)
        stalling: gatt.CharacteristicValue[bytes] = gatt.CharacteristicValue(
            read=self._read_stalling
        )
        open_perms = Perms.READABLE | Perms.WRITEABLE
        note = gatt.Descriptor(UUID(NOTE_DESCRIPTOR), open_perms, b"note")
        self._chars = {
            RW_CHAR: _char(RW_CHAR, Props.READ | Props.WRITE | Props.WRITE_WITHOUT_RESPONSE, rw),
            NOTIFY_CHAR: _char(NOTIFY_CHAR, Props.READ | Props.NOTIFY, b"\x00"),
            BOTH_CHAR: _char(BOTH_CHAR, Props.NOTIFY | Props.INDICATE, b"\x00"),
            FAILING_CHAR: _char(FAILING_CHAR, Props.READ | Props.WRITE, failing),
            SECRET_CHAR: _char(
                SECRET_CHAR, Props.READ, b"s3cret", Perms.READABLE | Perms.READ_REQUIRES_ENCRYPTION
            ),
            STALLING_CHAR: _char(STALLING_CHAR, Props.READ, stalling),
            BPM_CHAR: _char(BPM_CHAR, Props.INDICATE, b"", open_perms),
        }
        # A plain descriptor besides the CCCDs, for descriptor reads and writes.
        self._chars[RW_CHAR].descriptors = [note]
        test_chars = [c for uuid, c in self._chars.items() if uuid != BPM_CHAR]
        return [
            gatt.Service(UUID(TEST_SERVICE), test_chars),
            gatt.Service(UUID.from_16_bits(BLOOD_PRESSURE_SERVICE), [self._chars[BPM_CHAR]]),
        ]


def _char(
    uuid: str,
    properties: gatt.Characteristic.Properties,
    value: bytes | gatt.CharacteristicValue[bytes],
    permissions: gatt.Characteristic.Permissions = Perms.READABLE | Perms.WRITEABLE,
) -> gatt.Characteristic[bytes]:
    # SIG-assigned UUIDs go on the air as 16 bits, like on a real device.
    short = uuid[4:8] if uuid.endswith("-0000-1000-8000-00805f9b34fb") else None
    bumble_uuid = UUID.from_16_bits(int(short, 16)) if short else UUID(uuid)
    return gatt.Characteristic(bumble_uuid, properties, permissions, value)


class FixedPasskeyDisplay(PairingDelegate):
    """A peripheral that shows a fixed 6-digit passkey (a cuff's pairing display)."""

    def __init__(self, passkey: int) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.DISPLAY_OUTPUT_ONLY)
        self.passkey = passkey

    async def generate_passkey(self) -> int:
        """The passkey on the display."""
        return self.passkey


class PasskeyKeyboard(PairingDelegate):
    """A central whose user types `passkey` when asked."""

    def __init__(self, passkey: int) -> None:
        super().__init__(io_capability=PairingDelegate.IoCapability.KEYBOARD_INPUT_ONLY)
        self.passkey = passkey

    async def get_number(self) -> int:
        """The passkey the user types."""
        return self.passkey


class Inbox:
    """A notification handler that only enqueues, as collectors do."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytearray] = asyncio.Queue()

    def __call__(self, _characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        self.queue.put_nowait(data)

    async def take(self, count: int, seconds: float = 2.0) -> list[bytearray]:
        """The next `count` values, in arrival order."""
        async with asyncio.timeout(seconds):
            return [await self.queue.get() for _ in range(count)]


async def bond_of(device: Device, address: str) -> PairingKeys | None:
    """The keys `device` keeps for `address` (None when not bonded)."""
    assert device.keystore is not None, "power the device on first"
    return await device.keystore.get(address)
