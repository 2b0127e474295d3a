"""The gateway's central on a controller reached over HCI: a USB dongle (`usb:0`) driven by
bumble instead of BlueZ, or an emulated home in another process (`tcp-client:HOST:PORT`).

Usage::

    async with transport_radio("tcp-client:127.0.0.1:9000") as radio:
        found = await BleakScanner.discover(timeout=1, **radio.scanner_options)

The central makes the same choices as the virtual radio's (radio.py): its static random
address is its identity when pairing, whatever public address the controller has, and an
optional pairing delegate decides how it pairs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

from bumble import core, hci
from bumble.device import Device
from bumble.pairing import PairingDelegate
from bumble.transport import open_transport
from bumble.transport.common import Transport, TransportSpecError

from devices.bumble_backend.radio import (
    DEFAULT_CENTRAL_ADDRESS,
    BumbleCentral,
    use_pairing_delegate,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# The schemes bumble opens (bumble.transport.open_transport), with what follows the colon.
_SCHEMES = {
    "serial": r".+",
    "udp": r".+",
    "tcp-client": r"[^:\s]+:\d{1,5}",
    "tcp-server": r"[^:\s]+:\d{1,5}",
    "ws-client": r".+",
    "ws-server": r".+",
    "pty": r".*",
    "file": r".+",
    "vhci": r".*",
    "hci-socket": r".*",
    "usb": r".+",
    "pyusb": r".+",
    "android-emulator": r".*",
    "android-netsim": r".*",
    "unix": r".+",
    "unix-client": r".+",
    "unix-server": r".+",
}
_WANTED = {
    "tcp-client": "HOST:PORT",
    "tcp-server": "HOST:PORT",
    "usb": "a dongle's index or VID:PID, e.g. usb:0",
    "pyusb": "a dongle's index or VID:PID, e.g. pyusb:0",
}
POWER_ON_SECONDS = 10.0


class HciTransportError(Exception):
    """The HCI transport could not be opened, or no controller answered on it."""


class BadTransportSpec(HciTransportError):
    """The transport spec is not one bumble understands (e.g. `tcp-client:127.0.0.1:9000`)."""


def check_transport_spec(spec: str) -> str:
    """`spec` if it is well formed (`<scheme>:<parameters>`), else BadTransportSpec."""
    scheme, _, parameters = spec.partition(":")
    pattern = _SCHEMES.get(scheme)
    if pattern is None:
        known = ", ".join(sorted(_SCHEMES))
        raise BadTransportSpec(f"unknown HCI transport {spec!r}: the scheme is one of {known}")
    # Metadata such as usb:[driver=rtk]0 is bumble's business; the parameters follow it.
    bare = re.sub(r"^\[[^\]]*\]", "", parameters)
    if not re.fullmatch(pattern, bare):
        wanted = _WANTED.get(scheme, "its parameters after a colon")
        raise BadTransportSpec(f"bad HCI transport {spec!r}: {scheme} needs {wanted}")
    if scheme.startswith("tcp-") and not 0 < int(bare.rsplit(":", 1)[1]) < 65536:
        raise BadTransportSpec(f"bad HCI transport {spec!r}: the port is 1 to 65535")
    return spec


async def _open(spec: str) -> Transport:
    try:
        return await open_transport(check_transport_spec(spec))
    except TransportSpecError as exc:
        raise BadTransportSpec(f"bad HCI transport {spec!r}: {exc}") from None
    except (core.BaseBumbleError, OSError, ValueError) as exc:
        raise HciTransportError(f"cannot open HCI transport {spec!r}: {exc}") from None


class TransportRadio(BumbleCentral):
    """A bumble central on a controller over an HCI transport, with bleak arguments to use it."""

    def __init__(self, central: Device, transport: Transport, spec: str) -> None:
        super().__init__(central)
        self.transport = transport
        self.spec = spec

    async def run_until_lost(self, work: Coroutine[Any, Any, T]) -> T:
        """The result of `work`, or HciTransportError as soon as the transport is lost.

        A controller that goes away (the dongle pulled out, the emulator stopped) would
        otherwise leave every command waiting for its timeout; `work` is cancelled instead.
        """
        task = asyncio.ensure_future(work)
        waiting: set[asyncio.Future[Any]] = {task, self.transport.source.terminated}
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise HciTransportError(f"lost the HCI transport {self.spec!r}")

    async def close(self) -> None:
        """Power the central off and close the transport (also when it is already lost)."""
        try:
            async with asyncio.timeout(2.0):
                await self.central.power_off()
        except (core.BaseBumbleError, TimeoutError) as exc:
            log.debug("powering off the central on %s: %s", self.spec, exc)
        await self.transport.close()


@contextlib.asynccontextmanager
async def transport_radio(
    spec: str,
    *,
    central_name: str = "Linli gateway",
    central_address: str = DEFAULT_CENTRAL_ADDRESS,
    pairing_delegate: PairingDelegate | None = None,
    power_on_seconds: float = POWER_ON_SECONDS,
) -> AsyncIterator[TransportRadio]:
    """A powered-on central on the controller at `spec`, powered off and closed on exit.

    Raises BadTransportSpec for a spec bumble cannot read, HciTransportError when the
    transport does not open or no controller answers within `power_on_seconds`.
    `pairing_delegate` is as for `virtual_radio`.
    """
    transport = await _open(spec)
    central = Device.with_hci(
        central_name, hci.Address(central_address), transport.source, transport.sink
    )
    use_pairing_delegate(central, pairing_delegate, random_identity=True)
    radio = TransportRadio(central, transport, spec)
    try:
        try:
            # Powering on starts with HCI Reset: the controller forgets what a previous
            # host (a gateway that crashed) left behind.
            async with asyncio.timeout(power_on_seconds):
                await central.power_on()
        except (core.BaseBumbleError, TimeoutError) as exc:
            raise HciTransportError(f"no controller answered on {spec!r}: {exc}") from None
        yield radio
    finally:
        await radio.close()
