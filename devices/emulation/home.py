"""An emulated home: one virtual radio (bumble LocalLink) with devices advertising on it."""

from __future__ import annotations

from types import TracebackType

from bumble.device import Device
from bumble.link import LocalLink

from devices.bumble_backend.radio import attach_device
from devices.emulation.base import DEFAULT_ADVERTISING_INTERVAL_MS, DeviceInfo, EmulatedDevice
from devices.emulation.hci_server import HciServer


class EmulatedHome:
    """Devices on one LocalLink; use `async with EmulatedHome(monitor, meter) as home:`.

    Devices without an address get F0:00:00:00:00:01, :02... (random static addresses).
    `home.devices` lists what a central needs (name, address, kind, services); a bumble
    central on the same radio comes from `await home.central()`, and a controller for a
    gateway in another process from `await home.serve_hci("tcp-server:127.0.0.1:9000")`.
    """

    def __init__(
        self,
        *devices: EmulatedDevice,
        advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS,
    ) -> None:
        self.emulated = list(devices)
        self.advertising_interval_ms = advertising_interval_ms
        self.devices: list[DeviceInfo] = []
        self._link: LocalLink | None = None
        self._centrals: list[Device] = []
        self._servers: list[HciServer] = []

    @property
    def link(self) -> LocalLink:
        """The virtual radio (after `start`)."""
        if self._link is None:
            raise RuntimeError("the home is not started")
        return self._link

    async def start(self) -> list[DeviceInfo]:
        """Create the radio and the devices inside the running loop; start advertising."""
        self._link = LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it unannotated
        for index, device in enumerate(self.emulated, start=1):
            if device.address is None:
                device.address = f"F0:00:00:00:00:{index:02X}"
            self.devices.append(await device.start(self._link, self.advertising_interval_ms))
        return self.devices

    async def central(self, name: str = "Linli gateway", address: str | None = None) -> Device:
        """A powered-on bumble device on the same radio, to act as a collector."""
        own = address or f"C0:00:00:00:00:{len(self._centrals) + 1:02X}"
        central = attach_device(self.link, name, own)  # a controller that cancels connects
        await central.power_on()
        self._centrals.append(central)
        return central

    async def serve_hci(self, spec: str, name: str = "HCI dongle") -> HciServer:
        """One more controller on the radio, its HCI served on `spec` (tcp-server:HOST:PORT).

        A gateway reaches it as it reaches a USB dongle (`server.client_spec` says how); it
        outlives the gateways that come and go. Raises BadServerSpec or CannotListen.
        """
        server = HciServer(self.link, name)
        await server.start(spec)
        self._servers.append(server)
        return server

    def info(self, name: str) -> DeviceInfo:
        """The device called `name`."""
        for info in self.devices:
            if info.name == name:
                return info
        raise KeyError(name)

    async def stop(self) -> None:
        """Stop serving HCI, stop the devices' procedures and power everything off."""
        for server in self._servers:
            await server.close()
        for device in self.emulated:
            await device.stop()
        for central in self._centrals:
            await central.power_off()

    async def __aenter__(self) -> EmulatedHome:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
