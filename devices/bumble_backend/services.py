"""Discover a peer's GATT database with bumble and describe it as bleak's service collection."""

from __future__ import annotations

from collections.abc import Callable, Collection

from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bumble.device import Peer
from bumble.gatt_client import CharacteristicProxy, ServiceProxy

from devices.bumble_backend.convert import bleak_uuid


async def discover_collection(
    peer: Peer,
    max_write_without_response_size: Callable[[], int],
    wanted: Collection[str] | None = None,
) -> BleakGATTServiceCollection:
    """All primary services of `peer` (or only the `wanted` normalized UUIDs), fully discovered.

    The order matters to bleak: a service is added before its characteristics, which are
    added before their descriptors, because each addition looks up its parent by handle.
    """
    collection = BleakGATTServiceCollection()
    for service_proxy in await peer.discover_services():
        uuid = bleak_uuid(service_proxy.uuid)
        if wanted and uuid not in wanted:
            continue
        service = BleakGATTService(service_proxy, service_proxy.handle, uuid)
        collection.add_service(service)
        await _add_characteristics(
            peer, collection, service, service_proxy, max_write_without_response_size
        )
    return collection


async def _add_characteristics(
    peer: Peer,
    collection: BleakGATTServiceCollection,
    service: BleakGATTService,
    service_proxy: ServiceProxy,
    max_write_without_response_size: Callable[[], int],
) -> None:
    characteristics: list[CharacteristicProxy[bytes]] = await peer.discover_characteristics(
        service=service_proxy
    )
    for proxy in characteristics:
        # The value handle: the one every read, write and notification refers to.
        characteristic = BleakGATTCharacteristic(
            proxy,
            proxy.handle,
            bleak_uuid(proxy.uuid),
            sorted(gatt_char_props_to_strs(int(proxy.properties))),
            max_write_without_response_size,
            service,
        )
        collection.add_characteristic(characteristic)
        for descriptor in await peer.discover_descriptors(proxy):
            collection.add_descriptor(
                BleakGATTDescriptor(
                    descriptor, descriptor.handle, bleak_uuid(descriptor.type), characteristic
                )
            )
