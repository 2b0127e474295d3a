"""bleak's scanner backend over a bumble central: advertisements become bleak detections."""

from __future__ import annotations

import weakref
from typing import Any, Literal

from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Device

from devices.bumble_backend.convert import advertisement_data, merge_advertising_data


def central_from(kwargs: dict[str, Any], backend: str) -> Device:
    """The bumble central handed through bleak as `bumble_central=`."""
    central = kwargs.get("bumble_central")
    if not isinstance(central, Device):
        raise BleakError(f"{backend} needs bumble_central=<a powered-on bumble Device>")
    return central


class _ScanUsers:
    """Scanners running on each central, so one stopping does not stop another's scan.

    bleak lets a scanner run while a client looks a device up by address (another scan);
    bumble has one scan per device. Scanning someone else started is left running.
    """

    def __init__(self) -> None:
        self._users: weakref.WeakKeyDictionary[Device, set[BumbleScanner]] = (
            weakref.WeakKeyDictionary()
        )
        self._ours: weakref.WeakSet[Device] = weakref.WeakSet()

    async def join(self, central: Device, scanner: BumbleScanner, *, active: bool) -> None:
        """Register `scanner`, starting the central's scan if nobody runs one."""
        users = self._users.setdefault(central, set())
        if not users and not central.is_scanning:
            # Every advertisement, not just the first: bleak reports RSSI and data updates.
            await central.start_scanning(active=active, filter_duplicates=False)
            self._ours.add(central)
        users.add(scanner)

    async def leave(self, central: Device, scanner: BumbleScanner) -> None:
        """Unregister `scanner`, stopping the scan we started once nobody uses it."""
        users = self._users.setdefault(central, set())
        users.discard(scanner)
        if not users and central in self._ours:
            self._ours.discard(central)
            if central.is_scanning:
                await central.stop_scanning()


_scan_users = _ScanUsers()


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend; pass `backend=BumbleScanner, bumble_central=<Device>`."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central = central_from(kwargs, type(self).__name__)
        self._active = scanning_mode == "active"
        self._known: dict[str, AdvertisingData] = {}
        self._scanning = False

    async def start(self) -> None:
        """Start reporting advertisements heard by the central."""
        if self._scanning:
            return
        self.seen_devices = {}
        self._known = {}
        self._central.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        try:
            await _scan_users.join(self._central, self, active=self._active)
        except BaseException:
            self._central.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
            raise
        self._scanning = True

    async def stop(self) -> None:
        """Stop reporting advertisements (and scanning, if no other scanner needs it)."""
        if not self._scanning:
            return
        self._scanning = False
        self._central.remove_listener(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        await _scan_users.leave(self._central, self)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        address = advertisement.address
        key = address.to_string(with_type_qualifier=False)
        merged = merge_advertising_data(self._known.get(key), advertisement.data)
        self._known[key] = merged
        adv = advertisement_data(merged, advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        # details carries the bumble Address: its type (random or public) is needed to dial.
        device = self.create_or_update_device(key, key, adv.local_name, address, adv)
        self.call_detection_callbacks(device, adv)
