"""bleak's client backend over a bumble central: one LE connection, its GATT client, its keys."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from bleak import BleakScanner
from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError
from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.device import Connection, Device, Peer
from bumble.gatt_client import Client
from bumble.keys import KeyStore

from devices.bumble_backend.convert import gatt_errors
from devices.bumble_backend.scanner import BumbleScanner, central_from
from devices.bumble_backend.services import discover_collection

log = logging.getLogger(__name__)

CCCD_UUID = normalize_uuid_str("2902")
ATT_DEFAULT_MTU = 23
# What BlueZ asks for; the peripheral's answer decides.
DEFAULT_MTU_REQUEST = 517

# bumble refuses a second LE connection attempt while one is pending; bleak callers may
# connect to several devices at once, so attempts on one central take turns.
_connect_locks: weakref.WeakKeyDictionary[Device, asyncio.Lock] = weakref.WeakKeyDictionary()


class BumbleClient(BaseBleakClient):
    """bleak client backend; pass `backend=BumbleClient, bumble_central=<Device>`.

    Optional `bumble_mtu=` (default 517, None to skip) is the ATT MTU asked for on connect.
    Pairing uses the central's own pairing configuration (see `virtual_radio`).
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        services: Iterable[str] | None = None,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._central = central_from(kwargs, type(self).__name__)
        self._mtu_request: int | None = kwargs.get("bumble_mtu", DEFAULT_MTU_REQUEST)
        self._wanted = set(services) if services is not None else None
        self._peer_address: hci.Address | None = None
        self._name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name
            details = address_or_ble_device.details
            if isinstance(details, hci.Address):
                self._peer_address = details
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # --- connection ----------------------------------------------------------------

    @property
    def name(self) -> str:
        """The advertised name, else the address with dashes (as bleak's other backends)."""
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The ATT MTU of the connection (23 until exchanged)."""
        connection = self._connection
        return connection.att_mtu if connection is not None else ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """Whether the LE link is up."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, re-encrypt with a stored bond (or pair if asked), discover all services."""
        if self.is_connected:
            raise BleakError("Client is already connected")
        timeout: float = kwargs.get("timeout", self._timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        address = self._peer_address or await self._find(timeout)
        connection = await self._open_link(address, deadline - loop.time())
        try:
            async with asyncio.timeout_at(deadline):
                await self._secure(connection, pair)
                await self._exchange_mtu()
                with gatt_errors(lambda: self.is_connected):
                    self.services = await discover_collection(
                        self._peer_or_fail(), self._max_write_without_response, self._wanted
                    )
        except BaseException:
            await self._drop(connection)
            raise

    async def _find(self, seconds: float) -> hci.Address:
        # Given only an address string, scan for it like BlueZ does: the advertisement
        # tells the address type, which is needed to dial.
        scanner_kwargs: dict[str, Any] = {"bumble_central": self._central}
        device = await _find_device(self.address, seconds, scanner_kwargs)
        if device is None or not isinstance(device.details, hci.Address):
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        self._name = self._name or device.name
        self._peer_address = device.details
        return device.details

    async def _open_link(self, address: hci.Address, seconds: float) -> Connection:
        lock = _connect_locks.setdefault(self._central, asyncio.Lock())
        existing = self._central.find_connection_by_bd_addr(address)
        try:
            async with lock, asyncio.timeout(max(seconds, 0.0)):
                # Our own timeout, not bumble's: with bumble's the connect never returns
                # when the controller does not report the cancelled attempt.
                connection: Connection = await self._central.connect(address, timeout=None)
        except TimeoutError:
            await self._cancel_attempt(address, existing)
            raise TimeoutError(f"Connecting to {self.address} timed out") from None
        except core.BaseBumbleError as error:
            raise BleakError(f"Connecting to {self.address} failed: {error}") from error
        self._connection = connection
        self._peer = Peer(connection)
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        return connection

    async def _cancel_attempt(self, address: hci.Address, existing: Connection | None) -> None:
        try:
            await self._central.send_command(hci.HCI_LE_Create_Connection_Cancel_Command())
        except (core.BaseBumbleError, TimeoutError) as error:
            log.debug("cancelling the connection to %s: %s", address, error)
        # The link may have come up just as the attempt timed out: do not leave it dangling.
        late = self._central.find_connection_by_bd_addr(address)
        if late is not None and late is not existing:
            await _quietly_disconnect(late)

    async def _secure(self, connection: Connection, pair: bool) -> None:
        keys = await self._keystore().get(str(connection.peer_address))
        if keys is not None and (keys.ltk is not None or keys.ltk_central is not None):
            try:
                await connection.encrypt()
            except core.BaseBumbleError as error:
                # A peripheral that lost the bond refuses the old key; the link stays up,
                # and pair() can make a new bond.
                log.warning(
                    "%s: re-encryption with the stored bond failed: %s", self.address, error
                )
        if pair and not connection.is_encrypted:
            await self.pair()

    async def _exchange_mtu(self) -> None:
        if self._mtu_request is None:
            return
        try:
            await self._peer_or_fail().request_mtu(self._mtu_request)
        except att.ATT_Error as error:
            # A peripheral may refuse the exchange; the link then stays at 23, as allowed.
            log.info("%s: MTU exchange refused: %s", self.address, error)

    async def _drop(self, connection: Connection) -> None:
        # Forgotten first: the disconnection we cause is not reported as unsolicited.
        self._forget(connection)
        await _quietly_disconnect(connection)

    def _forget(self, connection: Connection) -> None:
        if self._connection is connection:
            connection.remove_listener(connection.EVENT_DISCONNECTION, self._on_disconnection)
            self._connection = None
            self._peer = None
            self.services = None
            self._subscribers = {}

    def _on_disconnection(self, _reason: int) -> None:
        connection = self._connection
        if connection is None:
            return
        self._forget(connection)
        # Only unsolicited disconnects get here (bleak's contract for the callback).
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def disconnect(self) -> None:
        """Disconnect (a no-op when not connected); the disconnected callback is not called."""
        connection = self._connection
        if connection is None:
            return
        await self._drop(connection)

    # --- pairing -------------------------------------------------------------------

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair and bond (Just Works, or passkey if the central's delegate says so)."""
        connection = self._connection_or_fail()
        keys = await self._keystore().get(str(connection.peer_address))
        if connection.is_encrypted and keys is not None:
            return  # already paired, like BlueZ
        try:
            async with asyncio.timeout(self._timeout):
                await connection.pair()
        except core.BaseBumbleError as error:
            raise BleakError(f"Pairing with {self.address} failed: {error}") from error

    async def unpair(self) -> None:
        """Forget the bond with this peripheral and disconnect from it."""
        address = self._peer_address
        if address is None:
            raise BleakError(f"Unknown address type of {self.address}: connect or scan first")
        await self.disconnect()
        await self._keystore().delete(str(address))

    # --- GATT ----------------------------------------------------------------------

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (or its last value seen, with `use_cached`)."""
        return await self._read(characteristic.handle, use_cached)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        return await self._read(descriptor.handle, use_cached)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write Request when `response` (errors surface), else Write Command."""
        await self._write(characteristic.handle, bytes(data), with_response=response)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (always with response)."""
        await self._write(descriptor.handle, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (preferred) or indications and deliver values as bytearray."""
        if "notify" in characteristic.properties:
            bits = b"\x01\x00"
        elif "indicate" in characteristic.properties:
            bits = b"\x02\x00"
        else:
            raise BleakError(f"Characteristic {characteristic.uuid} cannot notify or indicate")
        cccd = self._cccd(characteristic)
        client = self._gatt_client()
        handle = characteristic.handle
        self._unsubscribe(client, handle)

        def deliver(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[handle] = deliver
        # Registered for both kinds: a peripheral that notifies where it was asked to
        # indicate still gets heard, as on BlueZ.
        client.notification_subscribers.setdefault(handle, set()).add(deliver)
        client.indication_subscribers.setdefault(handle, set()).add(deliver)
        try:
            await self._write(cccd.handle, bits, with_response=True)
        except BaseException:
            self._unsubscribe(client, handle)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Stop delivering values and clear the CCCD."""
        cccd = self._cccd(characteristic)
        self._unsubscribe(self._gatt_client(), characteristic.handle)
        await self._write(cccd.handle, b"\x00\x00", with_response=True)

    def _cccd(self, characteristic: BleakGATTCharacteristic) -> BleakGATTDescriptor:
        cccd = characteristic.get_descriptor(CCCD_UUID)
        if cccd is None:
            raise BleakError(f"Characteristic {characteristic.uuid} has no CCCD")
        return cccd

    def _unsubscribe(self, client: Client, handle: int) -> None:
        deliver = self._subscribers.pop(handle, None)
        if deliver is None:
            return
        for subscribers in (client.notification_subscribers, client.indication_subscribers):
            registered = subscribers.get(handle)
            if registered is not None:
                registered.discard(deliver)
                if not registered:
                    del subscribers[handle]

    async def _read(self, handle: int, use_cached: bool) -> bytearray:
        client = self._gatt_client()
        if use_cached and handle in client.cached_values:
            return bytearray(client.cached_values[handle][1])
        with gatt_errors(lambda: self.is_connected):
            return bytearray(await client.read_value(handle))

    async def _write(self, handle: int, data: bytes, *, with_response: bool) -> None:
        client = self._gatt_client()
        with gatt_errors(lambda: self.is_connected):
            await client.write_value(handle, data, with_response=with_response)

    def _keystore(self) -> KeyStore:
        keystore = self._central.keystore
        if keystore is None:
            raise BleakError("The bumble central is not powered on (it has no key store)")
        return keystore

    def _max_write_without_response(self) -> int:
        return self.mtu_size - 3

    def _connection_or_fail(self) -> Connection:
        if self._connection is None:
            raise BleakError("Not connected")
        return self._connection

    def _peer_or_fail(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    def _gatt_client(self) -> Client:
        return self._peer_or_fail().gatt_client


async def _find_device(address: str, seconds: float, kwargs: dict[str, Any]) -> BLEDevice | None:
    return await BleakScanner.find_device_by_address(
        address, timeout=seconds, backend=BumbleScanner, **kwargs
    )


async def _quietly_disconnect(connection: Connection) -> None:
    try:
        async with asyncio.timeout(2.0):
            await connection.disconnect()
    except (core.BaseBumbleError, TimeoutError) as error:
        # Already gone, or the peer stopped answering: either way the link is over for us.
        log.debug("disconnecting %s: %s", connection.peer_address, error)
