"""A virtual radio: one bumble LocalLink with the gateway's central on it, plus peripherals.

Everything here must be created inside a running event loop (bumble's Controller asks for
it). Controllers get no public address: SMP would otherwise distribute the public address as
the identity address, the bond would be stored under it, and re-encrypting a connection to
the random address the central actually dials would fail with "keys not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from bumble import core, hci, ll
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.pairing import PairingConfig, PairingDelegate
from bumble.transport.common import AsyncPipeSink

from devices.bumble_backend.client import BumbleClient
from devices.bumble_backend.scanner import BumbleScanner

log = logging.getLogger(__name__)
DEFAULT_CENTRAL_ADDRESS = "C0:00:00:00:00:01"


class CancellableController(Controller):
    """A bumble Controller whose LE Create Connection Cancel really cancels, and whose HCI
    Reset really resets.

    bumble 0.0.236 answers the cancel with success but keeps the attempt pending and never
    reports its end, so `Device.connect(timeout=...)` waits forever and the next connect is
    refused. Per the Core spec (Vol 4, Part E, 7.8.13) the attempt ends with an LE Connection
    Complete event carrying Unknown Connection Identifier.

    bumble's HCI Reset does nothing, so a host that starts over (a gateway restarted after a
    crash) would find the links of its predecessor still up and the peripherals silent.
    """

    def on_hci_reset_command(
        self, _command: hci.HCI_Reset_Command
    ) -> hci.HCI_StatusReturnParameters:
        """Drop every LE link, the pending connection attempt, scanning and advertising.

        A controller that resets simply stops talking; its peers notice through the
        supervision timeout, which is what they are told here. The host gets no event for
        these links (Vol 4, Part E, 7.3.2): after a reset it knows of none.
        """
        for connection in list(self.le_connections.values()):
            try:
                connection.send_ll_control_pdu(
                    ll.TerminateInd(hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)
                )
            except core.InvalidArgumentError:
                log.debug("%s: %s already left the link", self.name, connection.peer_address)
        self.le_connections.clear()
        self.pending_le_connection = None
        self.le_scan_enable = False
        self.filter_duplicates = False
        self.le_legacy_advertiser.stop()
        for advertising_set in self.advertising_sets.values():
            advertising_set.stop()
        self.advertising_sets.clear()
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        """End the pending connection attempt, reporting it after the Command Complete."""
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        event = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address.address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # Scheduled, so the host sees the Command Complete first, as from a real controller.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


def attach_device(link: LocalLink, name: str, address: str | hci.Address) -> Device:
    """A bumble Device on `link` (not powered on), its controller without a public address."""
    controller = CancellableController(f"{name} controller", link=link)
    own = address if isinstance(address, hci.Address) else hci.Address(address)
    return Device(name=name, address=own, host=Host(controller, AsyncPipeSink(controller)))


def use_pairing_delegate(
    central: Device, delegate: PairingDelegate | None, *, random_identity: bool = False
) -> None:
    """Make `central` pair through `delegate` (None: Just Works).

    With `random_identity` it gives its static random address as its identity even when its
    controller has a public address (a USB dongle), as the controllers made here do.
    """
    if delegate is None and not random_identity:
        return
    chosen = delegate or PairingDelegate()
    identity = PairingConfig.AddressType.RANDOM if random_identity else None
    central.pairing_config_factory = lambda _connection: PairingConfig(
        delegate=chosen, identity_address_type=identity
    )


class BumbleCentral:
    """A powered-on bumble central, with the bleak arguments that use it.

    `scanner_options` and `client_options` are the keyword arguments to add to
    `BleakScanner(...)`, `BleakScanner.discover(...)` and `BleakClient(...)`.
    """

    def __init__(self, central: Device) -> None:
        self.central = central

    @property
    def scanner_options(self) -> dict[str, Any]:
        """Keyword arguments that make a BleakScanner scan with this central."""
        return {"backend": BumbleScanner, "bumble_central": self.central}

    @property
    def client_options(self) -> dict[str, Any]:
        """Keyword arguments that make a BleakClient connect through this central."""
        return {"backend": BumbleClient, "bumble_central": self.central}


class BumbleRadio(BumbleCentral):
    """The gateway's adapter (a bumble central) on a LocalLink, with bleak arguments to use it."""

    def __init__(self, link: LocalLink, central: Device) -> None:
        super().__init__(central)
        self.link = link
        self._devices: list[Device] = []

    def add_device(self, name: str, address: str | hci.Address) -> Device:
        """A new bumble Device on this radio (not powered on), e.g. an emulated peripheral.

        The radio powers it off on close; add services, power it on and advertise yourself.
        """
        device = attach_device(self.link, name, address)
        self._devices.append(device)
        return device

    async def close(self) -> None:
        """Power off the devices this radio made, peripherals first, then the central."""
        for device in [*reversed(self._devices), self.central]:
            if device.powered_on:
                await device.power_off()


@contextlib.asynccontextmanager
async def virtual_radio(
    *,
    link: LocalLink | None = None,
    central_name: str = "Linli gateway",
    central_address: str = DEFAULT_CENTRAL_ADDRESS,
    pairing_delegate: PairingDelegate | None = None,
) -> AsyncIterator[BumbleRadio]:
    """A powered-on central on `link` (a new LocalLink if None), powered off on exit.

    `pairing_delegate` decides how the central pairs: None means Just Works; a delegate
    with KEYBOARD_INPUT_ONLY whose `get_number()` returns the PIN pairs by passkey entry.
    """
    link = link or LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it unannotated
    central = attach_device(link, central_name, central_address)
    use_pairing_delegate(central, pairing_delegate)
    await central.power_on()
    radio = BumbleRadio(link, central)
    try:
        yield radio
    finally:
        await radio.close()
