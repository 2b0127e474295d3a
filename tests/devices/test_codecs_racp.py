"""Record Access Control Point requests and responses."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import (
    ABORT,
    DateTime,
    DecodeError,
    FilterType,
    InvalidValue,
    OpCode,
    Operator,
    RacpRequest,
    RacpResponse,
    RecordCount,
    RequestRejected,
    ReservedValue,
    ResponseCode,
    TruncatedPacket,
    decode_racp,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from tests.devices.test_codecs_date_time import date_times
from tests.fuzzing import counted, examples

REPORT = OpCode.REPORT_STORED_RECORDS


def packet(text: str) -> bytes:
    return bytes.fromhex(text)


class TestRequests:
    @pytest.mark.parametrize(
        ("text", "request_"),
        [
            ("04 01", RacpRequest(OpCode.REPORT_NUMBER_OF_STORED_RECORDS, Operator.ALL_RECORDS)),
            ("01 01", RacpRequest(REPORT, Operator.ALL_RECORDS)),
            (
                "01 03 01 03 00",
                RacpRequest(
                    REPORT, Operator.GREATER_THAN_OR_EQUAL_TO, FilterType.SEQUENCE_NUMBER, minimum=3
                ),
            ),
            (
                "02 02 01 02 00",
                RacpRequest(
                    OpCode.DELETE_STORED_RECORDS,
                    Operator.LESS_THAN_OR_EQUAL_TO,
                    FilterType.SEQUENCE_NUMBER,
                    maximum=2,
                ),
            ),
            (
                "01 04 01 02 00 05 00",
                RacpRequest(REPORT, Operator.WITHIN_RANGE_OF, FilterType.SEQUENCE_NUMBER, 2, 5),
            ),
            ("01 05", RacpRequest(REPORT, Operator.FIRST_RECORD)),
            ("01 06", RacpRequest(REPORT, Operator.LAST_RECORD)),
            ("03 00", ABORT),
            (
                "01 03 02 E8 07 03 0F 08 00 00",
                RacpRequest(
                    REPORT,
                    Operator.GREATER_THAN_OR_EQUAL_TO,
                    FilterType.USER_FACING_TIME,
                    minimum=DateTime(2024, 3, 15, 8),
                ),
            ),
        ],
    )
    def test_decode_and_encode(self, text: str, request_: RacpRequest) -> None:
        assert decode_request(packet(text)) == request_
        assert encode_request(request_) == packet(text)

    def test_sequence_filter_selects(self) -> None:
        request = decode_request(packet("01 04 01 02 00 05 00"))
        assert [seq for seq in range(8) if request.selects(seq)] == [2, 3, 4, 5]

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("01 07", ResponseCode.OPERATOR_NOT_SUPPORTED),  # reserved operator
            ("01 00", ResponseCode.INVALID_OPERATOR),  # null operator
            ("09 01", ResponseCode.OP_CODE_NOT_SUPPORTED),
            ("06 00 01 01", ResponseCode.OP_CODE_NOT_SUPPORTED),  # a response is not a request
            ("01 03 01", ResponseCode.INVALID_OPERAND),  # operand truncated
            ("01 03 01 03", ResponseCode.INVALID_OPERAND),
            ("01 01 01", ResponseCode.INVALID_OPERAND),  # "all" takes no operand
            ("01 03 07 03 00", ResponseCode.OPERAND_NOT_SUPPORTED),  # unknown filter type
            ("01 04 01 05 00 02 00", ResponseCode.INVALID_OPERAND),  # range upside down
            ("01 03 02 E8 07 0D 0F 08 00 00", ResponseCode.INVALID_OPERAND),  # month 13
            ("03 01", ResponseCode.INVALID_OPERATOR),  # abort takes the null operator
            ("04", ResponseCode.INVALID_OPERATOR),
        ],
    )
    def test_rejected_requests_carry_the_response_code(self, text: str, code: ResponseCode) -> None:
        with pytest.raises(RequestRejected) as caught:
            decode_request(packet(text))
        assert caught.value.response_code is code
        assert caught.value.op_code == packet(text)[0]
        assert str(caught.value).startswith("0x2A52: ")

    def test_empty_write(self) -> None:
        with pytest.raises(TruncatedPacket):
            decode_request(b"")


class TestReferenceExchangeD:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("05 00 05 00", RecordCount(5)),
            ("06 00 01 01", RacpResponse(1, ResponseCode.SUCCESS)),
            ("06 00 01 06", RacpResponse(1, ResponseCode.NO_RECORDS_FOUND)),
            ("06 00 01 04", RacpResponse(1, ResponseCode.OPERATOR_NOT_SUPPORTED)),
            ("06 00 01 09", RacpResponse(1, ResponseCode.OPERAND_NOT_SUPPORTED)),
            ("06 00 09 02", RacpResponse(9, ResponseCode.OP_CODE_NOT_SUPPORTED)),
            ("06 00 01 05", RacpResponse(1, ResponseCode.INVALID_OPERAND)),
            ("06 00 02 01", RacpResponse(2, ResponseCode.SUCCESS)),
            ("05 00 03 00", RecordCount(3)),
            ("06 00 03 01", RacpResponse(3, ResponseCode.SUCCESS)),
        ],
    )
    def test_meter_answers(self, text: str, expected: RacpResponse | RecordCount) -> None:
        assert decode_response(packet(text)) == expected
        assert encode_response(expected) == packet(text)

    def test_collector_requests(self) -> None:
        assert decode_request(packet("01 03 01 63 00")).minimum == 99
        assert decode_request(packet("01 03 02 E8 07 03 0F 08 00 00")).filter_type is (
            FilterType.USER_FACING_TIME
        )


class TestResponses:
    def test_response_code(self) -> None:
        assert decode_response(packet("06 00 01 06")) == RacpResponse(
            1, ResponseCode.NO_RECORDS_FOUND
        )
        assert decode_response(packet("06 00 09 02")) == RacpResponse(
            9, ResponseCode.OP_CODE_NOT_SUPPORTED
        )

    @pytest.mark.parametrize(
        ("text", "count"), [("05 00 05", 5), ("05 00 05 00", 5), ("05 00 03 01 00 00", 259)]
    )
    def test_counts_of_one_two_or_four_bytes(self, text: str, count: int) -> None:
        decoded = decode_response(packet(text))
        assert decoded == RecordCount(count)
        assert isinstance(decoded, RecordCount)
        assert encode_response(decoded) == packet(text)

    def test_count_encodes_as_uint16_by_default(self) -> None:
        assert encode_response(RecordCount(5)) == packet("05 00 05 00")

    @pytest.mark.parametrize(
        ("text", "error"),
        [
            ("05 00 01 02 03", InvalidValue),
            ("05 00", TruncatedPacket),
            ("06 00 01", TruncatedPacket),
            ("06 00 01 0A", ReservedValue),
            ("06 01 01 01", InvalidValue),
        ],
    )
    def test_bad_responses(self, text: str, error: type[DecodeError]) -> None:
        with pytest.raises(error):
            decode_response(packet(text))

    def test_decode_racp_tells_requests_from_responses(self) -> None:
        assert decode_racp(packet("05 00 03 00")) == RecordCount(3)
        assert decode_racp(packet("01 01")) == RacpRequest(REPORT, Operator.ALL_RECORDS)


def bounds(filter_type: FilterType) -> st.SearchStrategy[int | DateTime]:
    if filter_type is FilterType.SEQUENCE_NUMBER:
        return st.integers(0, 0xFFFF)
    return date_times().filter(lambda value: value.is_known)


def _order(bound: int | DateTime) -> tuple[int, ...]:
    if isinstance(bound, int):
        return (bound,)
    return (bound.year, bound.month, bound.day, bound.hours, bound.minutes, bound.seconds)


@st.composite
def requests(draw: st.DrawFn) -> RacpRequest:
    """Any valid RACP request."""
    op = draw(
        st.sampled_from(
            [REPORT, OpCode.DELETE_STORED_RECORDS, OpCode.REPORT_NUMBER_OF_STORED_RECORDS]
        )
    )
    if draw(st.integers(0, 5)) == 0:
        return ABORT
    operator = draw(st.sampled_from([o for o in Operator if o is not Operator.NULL]))
    if operator in (Operator.ALL_RECORDS, Operator.FIRST_RECORD, Operator.LAST_RECORD):
        return RacpRequest(op, operator)
    filter_type = draw(st.sampled_from(list(FilterType)))
    first, second = draw(bounds(filter_type)), draw(bounds(filter_type))
    if operator is Operator.LESS_THAN_OR_EQUAL_TO:
        return RacpRequest(op, operator, filter_type, maximum=first)
    if operator is Operator.GREATER_THAN_OR_EQUAL_TO:
        return RacpRequest(op, operator, filter_type, minimum=first)
    low, high = sorted([first, second], key=_order)
    return RacpRequest(op, operator, filter_type, minimum=low, maximum=high)


class TestProperties:
    @given(requests())
    def test_request_round_trip(self, request_: RacpRequest) -> None:
        assert decode_request(encode_request(request_)) == request_

    @given(st.integers(0, 255), st.sampled_from(list(ResponseCode)))
    def test_response_round_trip(self, op_code: int, code: ResponseCode) -> None:
        response = RacpResponse(op_code, code)
        assert decode_response(encode_response(response)) == response

    @given(st.integers(0, 0xFFFFFFFF), st.sampled_from([1, 2, 4]))
    def test_count_round_trip(self, count: int, size: int) -> None:
        if count >= 1 << (8 * size):
            count %= 1 << (8 * size)
        assert decode_response(encode_response(RecordCount(count, size))) == RecordCount(count)

    @counted
    @examples(1000, 5000)
    @given(st.binary(max_size=20))
    def test_random_bytes_raise_only_decode_errors(self, data: bytes) -> None:
        with contextlib.suppress(DecodeError):
            decode_racp(data)
