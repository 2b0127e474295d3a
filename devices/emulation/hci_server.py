"""A controller on an emulated home's radio, served over HCI on TCP, like a USB Bluetooth
dongle for a gateway in another process (`linli collect --hci tcp-client:HOST:PORT`).

The wire format is bumble's `tcp-server` transport (H4: one type byte, then the packet). That
transport is not used itself because it does not survive a host that dies: all connections
share one packet parser, so half a command left by a killed host garbles the next host's
first one, and a connection that closes after a newer one opened detaches the newer one.
Here every connection gets its own parser, and the newest host is the only one: a real
dongle has one host at a time, and one that restarts takes it over.

The controller keeps its links when its host goes away, as a dongle does; the next host's
HCI Reset drops them (CancellableController), so the peripherals advertise again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from bumble.core import InvalidPacketError
from bumble.link import LocalLink
from bumble.transport.common import PacketParser

from devices.bumble_backend import CancellableController

log = logging.getLogger(__name__)
_SPEC = re.compile(r"tcp-server:(?P<host>[^:\s]+):(?P<port>\d{1,5})")


class BadServerSpec(ValueError):
    """Not a spec this server listens on (`tcp-server:HOST:PORT`)."""


class CannotListen(Exception):
    """The address of the spec cannot be listened on (in use, not this machine's)."""


@dataclass(frozen=True)
class ServerSpec:
    """Where to listen: `_` as the host means every interface; port 0 lets the OS choose."""

    host: str
    port: int


def parse_server_spec(spec: str) -> ServerSpec:
    """The host and port of `tcp-server:HOST:PORT`, or BadServerSpec."""
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise BadServerSpec(f"bad HCI server {spec!r}: expected tcp-server:HOST:PORT")
    port = int(match["port"])
    if port > 65535:
        raise BadServerSpec(f"bad HCI server {spec!r}: the port is 0 to 65535")
    return ServerSpec(match["host"], port)


class _ToHost:
    """The controller's HCI sink: packets go to the current host, or nowhere without one."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None

    def on_packet(self, packet: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(packet)


class _HostConnection(asyncio.Protocol):
    """One host's TCP connection: its bytes, parsed on their own, go to the controller."""

    def __init__(self, server: HciServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = PacketParser(server.controller)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.attach(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except InvalidPacketError as exc:
            log.warning("HCI host %s sent garbage (%s): dropping it", self.peer, exc)
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.detach(self)

    @property
    def peer(self) -> str:
        """The host's address and port."""
        name = self.transport.get_extra_info("peername") if self.transport else None
        return f"{name[0]}:{name[1]}" if name else "?"


class HciServer:
    """A CancellableController on `link` whose HCI is served on TCP to one host at a time.

    Without `public_address` it has none, like the other controllers of the emulation; with
    one it is like most USB dongles.
    """

    def __init__(
        self, link: LocalLink, name: str = "HCI dongle", *, public_address: str | None = None
    ) -> None:
        self.controller = CancellableController(name, link=link, public_address=public_address)
        self._to_host = _ToHost()
        self.controller.host = self._to_host
        self._host: _HostConnection | None = None
        self._server: asyncio.Server | None = None
        self._where: ServerSpec | None = None

    @property
    def client_spec(self) -> str:
        """The spec a gateway on this machine opens to reach the controller (after `start`)."""
        if self._server is None or self._where is None:
            raise RuntimeError("the HCI server is not started")
        port = self._server.sockets[0].getsockname()[1]
        host = "127.0.0.1" if self._where.host == "_" else self._where.host
        return f"tcp-client:{host}:{port}"

    @property
    def host_connected(self) -> bool:
        """Whether a host is connected right now."""
        return self._host is not None

    async def start(self, spec: str) -> str:
        """Listen on `spec` (tcp-server:HOST:PORT); return the spec a gateway connects to.

        Raises BadServerSpec or CannotListen.
        """
        where = self._where = parse_server_spec(spec)
        try:
            self._server = await asyncio.get_running_loop().create_server(
                lambda: _HostConnection(self),
                host=None if where.host == "_" else where.host,
                port=where.port,
            )
        except OSError as exc:
            raise CannotListen(f"cannot listen on {spec}: {exc.strerror or exc}") from None
        return self.client_spec

    def attach(self, connection: _HostConnection) -> None:
        """Make `connection` the host, closing the previous one's connection."""
        previous, self._host = self._host, connection
        if previous is not None and previous.transport is not None:
            log.info("HCI host %s replaced by %s", previous.peer, connection.peer)
            previous.transport.close()
        log.info("HCI host connected from %s", connection.peer)
        self._to_host.transport = connection.transport

    def detach(self, connection: _HostConnection) -> None:
        """Forget `connection` if it is the host; the controller keeps its links."""
        if self._host is not connection:
            return
        log.info("HCI host %s went away", connection.peer)
        self._host = None
        self._to_host.transport = None

    async def close(self) -> None:
        """Stop listening and close the host's connection."""
        if self._server is not None:
            self._server.close()
        if self._host is not None and self._host.transport is not None:
            self._host.transport.close()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
