"""A bleak backend over bumble: the collector's unmodified bleak code against emulated devices.

Usage (peripherals join with `radio.add_device(...)` or `EmulatedDevice.start(radio.link)`)::

    async with virtual_radio() as radio:
        found = await BleakScanner.discover(timeout=0.2, **radio.scanner_options)
        async with BleakClient(device, timeout=5, **radio.client_options) as client:
            ...
"""

from devices.bumble_backend.client import BumbleClient
from devices.bumble_backend.radio import (
    BumbleRadio,
    CancellableController,
    attach_device,
    virtual_radio,
)
from devices.bumble_backend.scanner import BumbleScanner

__all__ = [
    "BumbleClient",
    "BumbleRadio",
    "BumbleScanner",
    "CancellableController",
    "attach_device",
    "virtual_radio",
]
