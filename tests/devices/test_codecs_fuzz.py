"""Every GATT decoder under arbitrary bytes: a value or the codec's own DecodeError, never
another exception; and where an encoder exists, what was decoded is sent again unchanged.

The decoders are read from devices.codecs' exports, so a codec added there is fuzzed here
without a line of this file changing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import devices.codecs as codecs
from devices.codecs import DecodeError, EncodeError
from tests.fuzzing import counted, examples

DECODERS: dict[str, Callable[[bytes], Any]] = {
    name: getattr(codecs, name)
    for name in codecs.__all__
    if name.startswith("decode_") and name != "decode_to_dict"  # fuzzed in test_codecs_json_view
}
# decode_X with its inverse encode_X; decode_racp tells requests from responses, whose own
# pairs are here.
PAIRS = {
    name: (decode, getattr(codecs, "encode_" + name.removeprefix("decode_")))
    for name, decode in DECODERS.items()
    if "encode_" + name.removeprefix("decode_") in codecs.__all__
}
# Arbitrary bytes, and bytes that start like real packets (a flags byte, an op code) more often
# than chance would have them.
packets = st.binary(max_size=32) | st.builds(
    lambda head, tail: bytes([head]) + tail, st.integers(0, 255), st.binary(max_size=24)
)


def test_every_decoder_has_an_encoder_but_the_racp_dispatcher() -> None:
    assert set(DECODERS) - set(PAIRS) == {"decode_racp"}
    assert len(DECODERS) >= 15


@pytest.mark.parametrize("name", sorted(DECODERS))
@counted
@examples(150, 3000)
@given(data=packets)
def test_arbitrary_bytes_give_a_value_or_a_decode_error(name: str, data: bytes) -> None:
    try:
        DECODERS[name](data)
    except DecodeError as error:
        message = str(error)
    else:
        return
    assert message, "a decode error says what is wrong"
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(PAIRS))
@counted
@examples(150, 3000)
@given(data=packets)
def test_what_decodes_is_encoded_again_unchanged(name: str, data: bytes) -> None:
    decode, encode = PAIRS[name]
    try:
        value = decode(data)
    except DecodeError:
        return
    try:
        again = encode(value)
    except EncodeError:
        # Only a code the specification reserves cannot be put on the air again.
        assert "reserved" in repr(value).lower()
        return
    assert decode(again) == value
