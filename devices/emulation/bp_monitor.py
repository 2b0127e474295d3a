"""An emulated blood-pressure monitor: BPS 0x1810 plus DIS, BAS and CTS.

Like many real cuffs it keeps a memory of readings (for several users) and sends those not
yet delivered as 0x2A35 indications as soon as a collector enables indications, then,
optionally, disconnects. A reading is marked delivered when its indication is confirmed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import ClassVar, Unpack

from bumble import core, gatt
from bumble.device import Connection

from devices.codecs import (
    BloodPressureFeature,
    BloodPressureMeasurement,
    DateTime,
    MeasurementStatus,
    SFloat,
    encode_blood_pressure_feature,
    encode_blood_pressure_measurement,
)
from devices.codecs.blood_pressure import PressureUnit
from devices.emulation.base import DeviceSettings, EmulatedDevice, Props

logger = logging.getLogger(__name__)

BPS = 0x1810
BPM = 0x2A35
ICP = 0x2A36
BP_FEATURE = 0x2A49


class BloodPressureMonitor(EmulatedDevice):
    """An emulated BP monitor; add readings with `add_reading`, then let a collector connect.

    `users` are the user IDs the monitor knows; `disconnect_after_sending` drops the link once
    the stored readings are confirmed; `keep_after_sending` sends every stored reading on
    each connection instead of only those never delivered.
    """

    kind: ClassVar[str] = "blood_pressure"
    service_uuid: ClassVar[int] = BPS

    def __init__(
        self,
        name: str = "Linli BP Monitor",
        *,
        users: Sequence[int] = (1,),
        disconnect_after_sending: bool = False,
        keep_after_sending: bool = False,
        feature: BloodPressureFeature | None = None,
        **settings: Unpack[DeviceSettings],
    ) -> None:
        settings.setdefault("model", "BPM-EMU")
        settings.setdefault("serial", "BPM-0001")
        super().__init__(name, **settings)
        self.users = tuple(users)
        self.disconnect_after_sending = disconnect_after_sending
        self.keep_after_sending = keep_after_sending
        self.feature = feature or BloodPressureFeature(
            body_movement_detection=True,
            cuff_fit_detection=True,
            irregular_pulse_detection=True,
            pulse_rate_range_detection=True,
            measurement_position_detection=True,
            multiple_bonds=len(self.users) > 1,
        )
        self.readings: list[BloodPressureMeasurement] = []
        self._delivered: set[int] = set()
        self._senders: dict[Connection, asyncio.Task[None]] = {}
        self._sent_on: dict[Connection, set[int]] = {}
        self._bpm = self.characteristic(BPM, Props.INDICATE, self.value(), protected_cccd=True)
        self._bpm.on(gatt.Characteristic.EVENT_SUBSCRIPTION, self._on_bpm_subscription)
        self._icp = self.characteristic(ICP, Props.NOTIFY, self.value(), protected_cccd=True)
        self._feature = self.characteristic(
            BP_FEATURE,
            Props.READ,
            self.value(lambda: encode_blood_pressure_feature(self.feature), protected=True),
        )

    # --- memory -----------------------------------------------------------------------

    def add_measurement(self, measurement: BloodPressureMeasurement) -> None:
        """Store a reading as is; it goes out at the next subscription (or now, if subscribed)."""
        if measurement.user_id is not None and measurement.user_id not in (*self.users, 0xFF):
            raise ValueError(f"user {measurement.user_id} is not one of {self.users}")
        self.readings.append(measurement)
        for connection in self.connections:
            if self.subscribed(connection, self._bpm) & 0x02:
                self._kick(connection)

    def add_reading(
        self,
        systolic: float,
        diastolic: float,
        mean_arterial_pressure: float | None = None,
        *,
        pulse: float | None = None,
        user_id: int | None = None,
        taken_at: dt.datetime | DateTime | None = None,
        unit: PressureUnit = "mmHg",
        status: MeasurementStatus | None = None,
    ) -> BloodPressureMeasurement:
        """Store a reading taken at `taken_at` (default: the monitor's clock now).

        Without a mean arterial pressure the monitor sends NaN ("not computed").
        """
        when = (
            taken_at if isinstance(taken_at, DateTime | None) else DateTime.from_datetime(taken_at)
        )
        measurement = BloodPressureMeasurement(
            systolic=SFloat.of(systolic),
            diastolic=SFloat.of(diastolic),
            mean_arterial_pressure=(
                SFloat.nan()
                if mean_arterial_pressure is None
                else SFloat.of(mean_arterial_pressure)
            ),
            unit=unit,
            time_stamp=when or self.clock.now(),
            pulse_rate=None if pulse is None else SFloat.of(pulse),
            user_id=user_id
            if user_id is not None
            else (self.users[0] if len(self.users) > 1 else None),
            status=status,
        )
        self.add_measurement(measurement)
        return measurement

    @property
    def pending(self) -> list[BloodPressureMeasurement]:
        """Readings not yet delivered to any collector."""
        return [m for i, m in enumerate(self.readings) if i not in self._delivered]

    async def inflate(self, cuff_pressures: Iterable[float], unit: PressureUnit = "mmHg") -> None:
        """Send Intermediate Cuff Pressure notifications, as while a measurement runs."""
        for pressure in cuff_pressures:
            packet = encode_blood_pressure_measurement(
                BloodPressureMeasurement(
                    SFloat.of(pressure),
                    SFloat.nan(),
                    SFloat.nan(),
                    unit,
                )
            )
            await self.device.notify_subscribers(self._icp, packet)

    # --- GATT -------------------------------------------------------------------------

    def profile_services(self) -> list[gatt.Service]:
        """Blood Pressure Service: BPM (indicate only), ICP (notify), Feature (read)."""
        return [gatt.Service(core.UUID.from_16_bits(BPS), [self._bpm, self._icp, self._feature])]

    def _on_bpm_subscription(self, bearer: Connection, notify: bool, indicate: bool) -> None:
        if indicate:
            self._kick(bearer)

    def on_disconnected(self, connection: Connection) -> None:
        """Forget what was being sent on a link that is gone."""
        sender = self._senders.pop(connection, None)
        if sender is not None:
            sender.cancel()
        self._sent_on.pop(connection, None)

    def _kick(self, connection: Connection) -> None:
        sender = self._senders.get(connection)
        if sender is None or sender.done():
            self._senders[connection] = self.spawn(self._send_stored(connection))

    def _next_for(self, connection: Connection) -> int | None:
        sent = self._sent_on.setdefault(connection, set())
        for index in range(len(self.readings)):
            if index not in sent and (self.keep_after_sending or index not in self._delivered):
                return index
        return None

    async def _send_stored(self, connection: Connection) -> None:
        sent_any = False
        while connection in self.connections and (index := self._next_for(connection)) is not None:
            packet = encode_blood_pressure_measurement(self.readings[index])
            await self.device.indicate_subscriber(connection, self._bpm, packet)
            self._sent_on[connection].add(index)
            self._delivered.add(index)
            sent_any = True
        if sent_any and self.disconnect_after_sending and connection in self.connections:
            logger.info("%s: readings delivered, disconnecting", self.name)
            await connection.disconnect()
