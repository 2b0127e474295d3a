"""A bleak backend over bumble: the collector's unmodified bleak code against emulated devices,
or against a controller driven over HCI (a USB dongle, an emulated home in another process).

Usage (peripherals join with `radio.add_device(...)` or `EmulatedDevice.start(radio.link)`)::

    async with virtual_radio() as radio:  # or: transport_radio("tcp-client:127.0.0.1:9000")
        found = await BleakScanner.discover(timeout=0.2, **radio.scanner_options)
        async with BleakClient(device, timeout=5, **radio.client_options) as client:
            ...
"""

from devices.bumble_backend.client import BumbleClient
from devices.bumble_backend.radio import (
    BumbleCentral,
    BumbleRadio,
    CancellableController,
    attach_device,
    virtual_radio,
)
from devices.bumble_backend.scanner import BumbleScanner
from devices.bumble_backend.transport import (
    BadTransportSpec,
    HciTransportError,
    TransportRadio,
    transport_radio,
)

__all__ = [
    "BadTransportSpec",
    "BumbleCentral",
    "BumbleClient",
    "BumbleRadio",
    "BumbleScanner",
    "CancellableController",
    "HciTransportError",
    "TransportRadio",
    "attach_device",
    "transport_radio",
    "virtual_radio",
]
