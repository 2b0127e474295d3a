"""Record Access Control Point 0x2A52: requests (collector → meter) and responses.

A request is `[op code][operator][operand...]`; the meter answers with a Response Code
indication `06 00 <request op code> <code>` or, for a count, `05 00 <count>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from devices.codecs._wire import Reader, u8, u16, uint
from devices.codecs.date_time import DateTime, encode_date_time, read_date_time
from devices.codecs.errors import (
    DecodeError,
    EncodeError,
    InvalidValue,
    ReservedValue,
    TruncatedPacket,
    check_length,
)

NAME = "0x2A52"


class OpCode(IntEnum):
    """RACP op codes; 5 and 6 go from the meter to the collector."""

    REPORT_STORED_RECORDS = 0x01
    DELETE_STORED_RECORDS = 0x02
    ABORT_OPERATION = 0x03
    REPORT_NUMBER_OF_STORED_RECORDS = 0x04
    NUMBER_OF_STORED_RECORDS_RESPONSE = 0x05
    RESPONSE_CODE = 0x06


class Operator(IntEnum):
    """RACP operators (0x07 and above are reserved)."""

    NULL = 0x00
    ALL_RECORDS = 0x01
    LESS_THAN_OR_EQUAL_TO = 0x02
    GREATER_THAN_OR_EQUAL_TO = 0x03
    WITHIN_RANGE_OF = 0x04
    FIRST_RECORD = 0x05
    LAST_RECORD = 0x06


class FilterType(IntEnum):
    """What the operand of <=, >= and range filters on."""

    SEQUENCE_NUMBER = 0x01
    USER_FACING_TIME = 0x02


class ResponseCode(IntEnum):
    """RACP response codes."""

    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_OPERATOR = 0x03
    OPERATOR_NOT_SUPPORTED = 0x04
    INVALID_OPERAND = 0x05
    NO_RECORDS_FOUND = 0x06
    ABORT_UNSUCCESSFUL = 0x07
    PROCEDURE_NOT_COMPLETED = 0x08
    OPERAND_NOT_SUPPORTED = 0x09


REQUEST_OP_CODES = (
    OpCode.REPORT_STORED_RECORDS,
    OpCode.DELETE_STORED_RECORDS,
    OpCode.ABORT_OPERATION,
    OpCode.REPORT_NUMBER_OF_STORED_RECORDS,
)
FILTERED = (Operator.LESS_THAN_OR_EQUAL_TO, Operator.GREATER_THAN_OR_EQUAL_TO)
Bound = int | DateTime


class RequestRejected(DecodeError):
    """A request a meter must refuse; `response_code` is what it answers (06 00 op code)."""

    def __init__(self, op_code: int, response_code: ResponseCode, message: str) -> None:
        super().__init__(f"{NAME}: {message}")
        self.op_code = op_code
        self.response_code = response_code


@dataclass(frozen=True, slots=True)
class RacpRequest:
    """A RACP request. `<=` uses `maximum`, `>=` uses `minimum`, a range uses both.

    Bounds are sequence numbers (int) or user-facing times (DateTime), per `filter_type`.
    """

    op_code: OpCode
    operator: Operator = Operator.ALL_RECORDS
    filter_type: FilterType | None = None
    minimum: Bound | None = None
    maximum: Bound | None = None

    def selects(self, sequence_number: int) -> bool:
        """True when a record with this sequence number passes a sequence-number filter."""
        low = self.minimum if isinstance(self.minimum, int) else None
        high = self.maximum if isinstance(self.maximum, int) else None
        return (low is None or sequence_number >= low) and (high is None or sequence_number <= high)


ABORT = RacpRequest(OpCode.ABORT_OPERATION, Operator.NULL)


@dataclass(frozen=True, slots=True)
class RacpResponse:
    """A Response Code indication: the request's op code and the outcome."""

    request_op_code: int
    response_code: ResponseCode


@dataclass(frozen=True, slots=True)
class RecordCount:
    """A Number of Stored Records response; `size` is the width of the count (1, 2 or 4)."""

    count: int
    size: int = field(default=2, compare=False)


def _read_bound(reader: Reader, filter_type: FilterType) -> Bound:
    if filter_type is FilterType.SEQUENCE_NUMBER:
        return reader.u16()
    bound = read_date_time(reader)
    if not bound.is_known:
        raise InvalidValue("a user-facing time filter needs a known date")
    return bound


def _operand(reader: Reader, op: int, operator: Operator) -> RacpRequest:
    rest = len(reader.data) - reader.pos
    if operator not in (*FILTERED, Operator.WITHIN_RANGE_OF):
        if rest:
            raise RequestRejected(
                op, ResponseCode.INVALID_OPERAND, f"{operator.name} takes no operand"
            )
        return RacpRequest(OpCode(op), operator)
    if rest == 0:
        raise RequestRejected(op, ResponseCode.INVALID_OPERAND, f"{operator.name} needs an operand")
    raw_filter = reader.u8()
    if raw_filter not in FilterType.__members__.values():
        raise RequestRejected(
            op, ResponseCode.OPERAND_NOT_SUPPORTED, f"filter type 0x{raw_filter:02X}"
        )
    filter_type = FilterType(raw_filter)
    size = (2 if filter_type is FilterType.SEQUENCE_NUMBER else 7) * (
        2 if operator is Operator.WITHIN_RANGE_OF else 1
    )
    if len(reader.data) - reader.pos != size:
        raise RequestRejected(
            op,
            ResponseCode.INVALID_OPERAND,
            f"{operator.name} by {filter_type.name} needs {size} operand bytes",
        )
    try:
        first = _read_bound(reader, filter_type)
        second = _read_bound(reader, filter_type) if operator is Operator.WITHIN_RANGE_OF else None
    except DecodeError as exc:
        raise RequestRejected(op, ResponseCode.INVALID_OPERAND, str(exc)) from exc
    if operator is Operator.LESS_THAN_OR_EQUAL_TO:
        return RacpRequest(OpCode(op), operator, filter_type, maximum=first)
    if operator is Operator.GREATER_THAN_OR_EQUAL_TO:
        return RacpRequest(OpCode(op), operator, filter_type, minimum=first)
    assert second is not None
    if _order_key(first) > _order_key(second):
        raise RequestRejected(
            op, ResponseCode.INVALID_OPERAND, "range lower bound above upper bound"
        )
    return RacpRequest(OpCode(op), operator, filter_type, minimum=first, maximum=second)


def _order_key(bound: Bound) -> tuple[int, ...]:
    if isinstance(bound, int):
        return (bound,)
    return (bound.year, bound.month, bound.day, bound.hours, bound.minutes, bound.seconds)


def decode_request(data: bytes) -> RacpRequest:
    """Decode a RACP request; a request a meter must refuse raises RequestRejected."""
    if not data:
        raise TruncatedPacket(f"{NAME}: 0 bytes, at least 2 expected")
    reader = Reader(NAME, data)
    op = reader.u8()
    if op not in REQUEST_OP_CODES:
        raise RequestRejected(
            op, ResponseCode.OP_CODE_NOT_SUPPORTED, f"op code 0x{op:02X} not supported"
        )
    if len(data) < 2:
        raise RequestRejected(
            op, ResponseCode.INVALID_OPERATOR, f"op code 0x{op:02X} without operator"
        )
    raw_operator = reader.u8()
    if op == OpCode.ABORT_OPERATION:
        if raw_operator != Operator.NULL:
            raise RequestRejected(
                op, ResponseCode.INVALID_OPERATOR, "abort takes the null operator"
            )
        if len(data) > 2:
            raise RequestRejected(op, ResponseCode.INVALID_OPERAND, "abort takes no operand")
        return ABORT
    if raw_operator == Operator.NULL:
        raise RequestRejected(op, ResponseCode.INVALID_OPERATOR, "null operator in a request")
    if raw_operator > max(Operator):
        raise RequestRejected(
            op, ResponseCode.OPERATOR_NOT_SUPPORTED, f"operator 0x{raw_operator:02X} is reserved"
        )
    return _operand(reader, op, Operator(raw_operator))


def _encode_bound(bound: Bound | None, filter_type: FilterType) -> bytes:
    if filter_type is FilterType.SEQUENCE_NUMBER and isinstance(bound, int):
        return u16(bound, "sequence number")
    if filter_type is FilterType.USER_FACING_TIME and isinstance(bound, DateTime):
        return encode_date_time(bound)
    raise EncodeError(f"a {filter_type.name} filter needs a matching bound, not {bound!r}")


def encode_request(request: RacpRequest) -> bytes:
    """The bytes of a RACP request."""
    if request.op_code not in REQUEST_OP_CODES:
        raise EncodeError(f"{request.op_code!r} is not a request op code")
    head = bytes([request.op_code, request.operator])
    if request.operator not in (*FILTERED, Operator.WITHIN_RANGE_OF):
        if (
            request.filter_type is not None
            or request.minimum is not None
            or request.maximum is not None
        ):
            raise EncodeError(f"{request.operator.name} takes no operand")
        return head
    if request.filter_type is None:
        raise EncodeError(f"{request.operator.name} needs a filter type")
    bounds = {
        Operator.LESS_THAN_OR_EQUAL_TO: [request.maximum],
        Operator.GREATER_THAN_OR_EQUAL_TO: [request.minimum],
        Operator.WITHIN_RANGE_OF: [request.minimum, request.maximum],
    }[request.operator]
    operand = b"".join(_encode_bound(bound, request.filter_type) for bound in bounds)
    return head + bytes([request.filter_type]) + operand


def decode_response(data: bytes) -> RacpResponse | RecordCount:
    """Decode a RACP response: a Response Code or a Number of Stored Records (1/2/4 bytes)."""
    if len(data) < 2:
        raise TruncatedPacket(f"{NAME}: {len(data)} bytes, at least 3 expected for a response")
    op, operator = data[0], data[1]
    if op not in (OpCode.NUMBER_OF_STORED_RECORDS_RESPONSE, OpCode.RESPONSE_CODE):
        raise InvalidValue(f"{NAME}: op code 0x{op:02X} is not a response")
    if operator != Operator.NULL:
        raise InvalidValue(f"{NAME}: response with operator 0x{operator:02X} (null expected)")
    if op == OpCode.NUMBER_OF_STORED_RECORDS_RESPONSE:
        size = len(data) - 2
        if size not in (1, 2, 4):
            error = TruncatedPacket if size == 0 else InvalidValue
            raise error(f"{NAME}: number of records in {size} bytes (1, 2 or 4 expected)")
        return RecordCount(int.from_bytes(data[2:], "little"), size)
    check_length(NAME, data, 4)
    code = data[3]
    if code not in ResponseCode.__members__.values():
        raise ReservedValue(f"{NAME}: response code 0x{code:02X} is reserved")
    return RacpResponse(data[2], ResponseCode(code))


def encode_response(response: RacpResponse | RecordCount) -> bytes:
    """The bytes of a RACP response (a count in `size` bytes, 2 by default)."""
    if isinstance(response, RecordCount):
        if response.size not in (1, 2, 4):
            raise EncodeError(f"count size {response.size} is not 1, 2 or 4")
        return bytes([OpCode.NUMBER_OF_STORED_RECORDS_RESPONSE, 0]) + uint(
            response.count, response.size, "record count"
        )
    op_code = u8(response.request_op_code, "request op code")
    return bytes([OpCode.RESPONSE_CODE, 0]) + op_code + bytes([response.response_code])


def decode_racp(data: bytes) -> RacpRequest | RacpResponse | RecordCount:
    """Decode any RACP packet: responses by their op code (5 or 6), anything else as a request."""
    if data and data[0] in (OpCode.NUMBER_OF_STORED_RECORDS_RESPONSE, OpCode.RESPONSE_CODE):
        return decode_response(data)
    return decode_request(data)
