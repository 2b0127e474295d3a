"""An emulated glucose meter: GLS 0x1808 with a full RACP, plus DIS, BAS and CTS.

Records are kept in storage order (oldest first) with uint16 sequence numbers that wrap
past 65535. RACP follows the Nordic SDK's choices for edge cases: null operator → 0x03,
reserved operator → 0x04, wrong operand → 0x05, user-facing-time filter → 0x09, unknown op
code → 0x02. The write is validated for CCCDs (0xFD) and a running procedure (0xFE, Abort
excepted) at once; the procedure itself runs as a task, so the Write Response comes first.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Unpack

from bumble import att, core, gatt
from bumble.device import Connection

from devices.codecs import (
    DateTime,
    DecodeError,
    FilterType,
    GlucoseContext,
    GlucoseFeature,
    GlucoseMeasurement,
    OpCode,
    Operator,
    RacpRequest,
    RacpResponse,
    RecordCount,
    RequestRejected,
    ResponseCode,
    SensorStatus,
    SFloat,
    decode_request,
    encode_glucose_context,
    encode_glucose_feature,
    encode_glucose_measurement,
    encode_response,
)
from devices.emulation.base import DeviceSettings, EmulatedDevice, ErrorCode, Props

logger = logging.getLogger(__name__)

GLS = 0x1808
MEASUREMENT = 0x2A18
CONTEXT = 0x2A34
GLUCOSE_FEATURE = 0x2A51
RACP = 0x2A52
NOTIFY = 0x01
INDICATE = 0x02


@dataclass(frozen=True, slots=True)
class GlucoseRecord:
    """One stored record: its measurement and, if any, its context."""

    measurement: GlucoseMeasurement
    context: GlucoseContext | None = None

    @property
    def sequence_number(self) -> int:
        """The record's sequence number."""
        return self.measurement.sequence_number


def _scaled(value: float, power: int) -> SFloat:
    # Scale in decimal so that 105 mg/dL is exactly 105e-5 kg/L on the air.
    return SFloat.of(float(Decimal(repr(value)).scaleb(power)))


class GlucoseMeter(EmulatedDevice):
    """An emulated glucose meter; add records with `add_record`, then let a collector sync.

    `first_sequence` is the sequence number of the next record (65534 shows the wrap);
    `record_interval` (s) paces the notifications of a report, as slow meters do.
    """

    kind: ClassVar[str] = "glucose"
    service_uuid: ClassVar[int] = GLS

    def __init__(
        self,
        name: str = "Linli Glucose Meter",
        *,
        first_sequence: int = 1,
        record_interval: float = 0.0,
        feature: GlucoseFeature | None = None,
        **settings: Unpack[DeviceSettings],
    ) -> None:
        settings.setdefault("model", "GLM-EMU")
        settings.setdefault("serial", "GLM-0001")
        super().__init__(name, **settings)
        if not 0 <= first_sequence <= 0xFFFF:
            raise ValueError(f"sequence number {first_sequence} outside 0..65535")
        self.next_sequence = first_sequence
        self.record_interval = record_interval
        self.feature = feature or GlucoseFeature(
            low_battery_detection=True,
            sensor_malfunction_detection=True,
            sample_size=True,
            strip_insertion_error_detection=True,
            result_high_low_detection=True,
            time_fault=True,
        )
        self.records: list[GlucoseRecord] = []
        # Quirks for tests: records whose packets arrive garbled (cut short on the air), and
        # a response code the meter answers every report with instead of doing it.
        self.garbled: set[int] = set()
        self.failing_reports: ResponseCode | None = None
        self._procedure: asyncio.Task[None] | None = None
        self._procedure_connection: Connection | None = None
        self._measurement = self.characteristic(
            MEASUREMENT, Props.NOTIFY, self.value(), protected_cccd=True
        )
        self._context = self.characteristic(
            CONTEXT, Props.NOTIFY, self.value(), protected_cccd=True
        )
        self._racp = self.characteristic(
            RACP,
            Props.WRITE | Props.INDICATE,
            self.value(write=self._on_racp_write, protected=True),
            protected_cccd=True,
        )
        self._feature = self.characteristic(
            GLUCOSE_FEATURE,
            Props.READ,
            self.value(lambda: encode_glucose_feature(self.feature), protected=True),
        )

    # --- memory -----------------------------------------------------------------------

    def _take_sequence(self) -> int:
        sequence = self.next_sequence
        self.next_sequence = (sequence + 1) & 0xFFFF
        return sequence

    def add_measurement(
        self, measurement: GlucoseMeasurement, context: GlucoseContext | None = None
    ) -> GlucoseRecord:
        """Store a record as is (its own sequence number; the counter is not moved)."""
        record = GlucoseRecord(measurement, context)
        self.records.append(record)
        return record

    def add_record(
        self,
        mg_per_dl: float | None = None,
        *,
        mmol_per_l: float | None = None,
        taken_at: dt.datetime | DateTime | None = None,
        time_offset: int | None = None,
        meal: str | None = None,
        control_solution: bool = False,
        sensor_status: SensorStatus | None = None,
        sample_type: str = "capillary_whole_blood",
        sample_location: str = "finger",
    ) -> GlucoseRecord:
        """Store a reading with the next sequence number (default time: the meter's clock).

        mg/dL goes on the air as kg/L, mmol/L as mol/L. A meal adds a context (tester self,
        health no issues). Control-solution records have type and location control_solution.
        """
        if (mg_per_dl is None) == (mmol_per_l is None):
            raise ValueError("give the concentration in exactly one of mg_per_dl, mmol_per_l")
        if control_solution:
            sample_type = sample_location = "control_solution"
        when = (
            taken_at if isinstance(taken_at, DateTime | None) else DateTime.from_datetime(taken_at)
        )
        sequence = self._take_sequence()
        measurement = GlucoseMeasurement(
            sequence_number=sequence,
            base_time=when or self.clock.now(),
            time_offset=time_offset,
            concentration=(
                _scaled(mg_per_dl, -5) if mg_per_dl is not None else _scaled(mmol_per_l or 0, -3)
            ),
            unit="kg/L" if mg_per_dl is not None else "mol/L",
            sample_type=sample_type,
            sample_location=sample_location,
            sensor_status=sensor_status,
            context_follows=meal is not None,
        )
        context = (
            GlucoseContext(sequence, meal=meal, tester="self", health="no_issues")
            if meal is not None
            else None
        )
        return self.add_measurement(measurement, context)

    # --- GATT -------------------------------------------------------------------------

    def profile_services(self) -> list[gatt.Service]:
        """Glucose Service: measurement and context (notify), feature (read), RACP."""
        return [
            gatt.Service(
                core.UUID.from_16_bits(GLS),
                [self._measurement, self._context, self._feature, self._racp],
            )
        ]

    def on_disconnected(self, connection: Connection) -> None:
        """A procedure dies with its link."""
        if self._procedure_connection is connection and self._procedure is not None:
            self._procedure.cancel()

    @property
    def procedure_running(self) -> bool:
        """True while a RACP procedure is in progress."""
        return self._procedure is not None and not self._procedure.done()

    def _on_racp_write(self, connection: Connection, data: bytes) -> None:
        if not self.subscribed(connection, self._racp) & INDICATE:
            raise att.ATT_Error(ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        if data[:1] == bytes([OpCode.ABORT_OPERATION]):
            self.spawn(self._abort(connection, data))
            return
        if self.procedure_running:
            raise att.ATT_Error(ErrorCode.PROCEDURE_ALREADY_IN_PROGRESS)
        reporting = data[:1] == bytes([OpCode.REPORT_STORED_RECORDS])
        if reporting and not self.subscribed(connection, self._measurement) & NOTIFY:
            raise att.ATT_Error(ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        self._procedure = self.spawn(self._run(connection, data))
        self._procedure_connection = connection

    async def _respond(self, connection: Connection, op_code: int, code: ResponseCode) -> None:
        packet = encode_response(RacpResponse(op_code, code))
        await self.device.indicate_subscriber(connection, self._racp, packet)

    async def _abort(self, connection: Connection, data: bytes) -> None:
        try:
            decode_request(data)
        except RequestRejected as exc:
            await self._respond(connection, exc.op_code, exc.response_code)
            return
        running = self._procedure
        if running is not None and not running.done():
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
        await self._respond(connection, OpCode.ABORT_OPERATION, ResponseCode.SUCCESS)

    def _select(self, request: RacpRequest) -> list[GlucoseRecord]:
        if request.operator is Operator.ALL_RECORDS:
            return list(self.records)
        if request.operator is Operator.FIRST_RECORD:
            return self.records[:1]
        if request.operator is Operator.LAST_RECORD:
            return self.records[-1:]
        return [r for r in self.records if request.selects(r.sequence_number)]

    async def _run(self, connection: Connection, data: bytes) -> None:
        try:
            request = decode_request(data)
        except RequestRejected as exc:
            await self._respond(connection, exc.op_code, exc.response_code)
            return
        except DecodeError:  # an empty write: no op code at all
            await self._respond(connection, 0, ResponseCode.OP_CODE_NOT_SUPPORTED)
            return
        op = request.op_code
        if request.filter_type is FilterType.USER_FACING_TIME:
            await self._respond(connection, op, ResponseCode.OPERAND_NOT_SUPPORTED)
            return
        selected = self._select(request)
        if op is OpCode.REPORT_NUMBER_OF_STORED_RECORDS:
            packet = encode_response(RecordCount(len(selected)))
            await self.device.indicate_subscriber(connection, self._racp, packet)
            return
        if not selected:
            await self._respond(connection, op, ResponseCode.NO_RECORDS_FOUND)
            return
        if op is OpCode.DELETE_STORED_RECORDS:
            chosen = {id(record) for record in selected}
            self.records = [r for r in self.records if id(r) not in chosen]
        elif self.failing_reports is not None:
            await self._respond(connection, op, self.failing_reports)
            return
        else:
            await self._report(connection, selected)
        await self._respond(connection, op, ResponseCode.SUCCESS)

    async def _report(self, connection: Connection, records: list[GlucoseRecord]) -> None:
        total = len(records)
        logger.debug("%s: sending %d records", self.name, total)
        sent = 0
        try:
            for record in records:
                packet = encode_glucose_measurement(record.measurement)
                if record.sequence_number in self.garbled:
                    packet = packet[:5]
                await self.device.notify_subscriber(connection, self._measurement, packet)
                if record.context is not None:
                    context = encode_glucose_context(record.context)
                    await self.device.notify_subscriber(connection, self._context, context)
                sent += 1
                logger.debug("%s: sent %d of %d records", self.name, sent, total)
                if self.record_interval:
                    await asyncio.sleep(self.record_interval)
        except asyncio.CancelledError:
            logger.debug("%s: report cut short after %d of %d records", self.name, sent, total)
            raise
        logger.debug("%s: sent all %d records", self.name, total)
