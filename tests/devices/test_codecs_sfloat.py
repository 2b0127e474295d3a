"""IEEE-11073 SFLOAT: the reference's table, the specials, round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.codecs import DecodeError, EncodeError, SFloat, decode_sfloat, encode_sfloat
from devices.codecs.sfloat import sfloat_from_word
from tests.fuzzing import counted, examples

SPECIALS = ["nan", "nres", "positive_infinity", "negative_infinity", "reserved"]


@st.composite
def sfloats(draw: st.DrawFn, specials: bool = True) -> SFloat:
    """Any SFloat a device can send: a mantissa/exponent pair, or (sometimes) a special."""
    if specials and draw(st.integers(0, 9)) == 0:
        return SFloat(None, draw(st.sampled_from(SPECIALS)), 0)
    mantissa = draw(st.integers(-2045, 2045))
    exponent = draw(st.integers(-8, 7))
    value = mantissa * 10**exponent if exponent >= 0 else mantissa / 10**-exponent
    return SFloat.of(float(value), exponent)


class TestReferenceTable:
    @pytest.mark.parametrize(
        ("hex_bytes", "value"),
        [
            ("78 00", 120),
            ("A0 F0", 16.0),
            ("6B F0", 10.7),
            ("FB 0F", -5),
            ("D2 E4", 12.34),
            ("69 B0", 0.00105),
        ],
    )
    def test_decodes_documented_values(self, hex_bytes: str, value: float) -> None:
        decoded = decode_sfloat(bytes.fromhex(hex_bytes))
        assert decoded.value == value
        assert decoded.special is None

    @pytest.mark.parametrize(
        ("hex_bytes", "value", "exponent"),
        [
            ("78 00", 120, None),
            ("A0 F0", 16.0, -1),
            ("6B F0", 10.7, None),
            ("FB 0F", -5, None),
            ("D2 E4", 12.34, None),
            ("69 B0", 0.00105, None),
        ],
    )
    def test_encodes_documented_bytes(
        self, hex_bytes: str, value: float, exponent: int | None
    ) -> None:
        assert encode_sfloat(value, exponent) == bytes.fromhex(hex_bytes)

    def test_decoded_value_keeps_its_resolution_when_encoded_again(self) -> None:
        assert encode_sfloat(decode_sfloat(bytes.fromhex("A0 F0"))) == bytes.fromhex("A0 F0")


class TestSpecials:
    @pytest.mark.parametrize(
        ("word", "name"),
        [
            (0x07FF, "nan"),
            (0x0800, "nres"),
            (0x07FE, "positive_infinity"),
            (0x0802, "negative_infinity"),
            (0x0801, "reserved"),
        ],
    )
    def test_special_words_are_never_numbers(self, word: int, name: str) -> None:
        decoded = decode_sfloat(word.to_bytes(2, "little"))
        assert decoded == SFloat(None, name)
        assert decoded.value is None
        assert not decoded.is_number

    @pytest.mark.parametrize("exponent", [1, 7, 8, 15])
    def test_special_mantissa_with_an_exponent_is_still_special(self, exponent: int) -> None:
        assert sfloat_from_word(exponent << 12 | 0x7FF).special == "nan"
        assert sfloat_from_word(exponent << 12 | 0x802).special == "negative_infinity"

    def test_nan_is_not_2047(self) -> None:
        assert decode_sfloat(bytes.fromhex("FF 07")).value is None

    def test_float_specials_encode_as_specials(self) -> None:
        assert encode_sfloat(math.nan) == bytes.fromhex("FF 07")
        assert encode_sfloat(math.inf) == bytes.fromhex("FE 07")
        assert encode_sfloat(-math.inf) == bytes.fromhex("02 08")

    @given(st.sampled_from(SPECIALS))
    def test_specials_round_trip(self, name: str) -> None:
        assert decode_sfloat(encode_sfloat(SFloat(None, name))).special == name


class TestEncodingChoices:
    def test_smallest_magnitude_exponent_that_is_exact(self) -> None:
        assert encode_sfloat(2500) == (0x1000 | 250).to_bytes(2, "little")
        assert encode_sfloat(0.5) == (0xF000 | 5).to_bytes(2, "little")

    @pytest.mark.parametrize("value", [1 / 3, 2046, 123456, 1e-9, 20450000001])
    def test_unrepresentable_values_are_refused(self, value: float) -> None:
        with pytest.raises(EncodeError):
            encode_sfloat(value)

    def test_mantissa_range_excludes_the_special_patterns(self) -> None:
        # 0x802 as a 12-bit mantissa is -2046: that word is -INFINITY, not a number.
        assert encode_sfloat(-2045) == (0x1000 - 2045).to_bytes(2, "little")
        assert encode_sfloat(-2050) == (0x1000 | (-205 & 0xFFF)).to_bytes(2, "little")
        with pytest.raises(EncodeError):
            encode_sfloat(-2046)

    def test_a_value_is_a_number_or_a_special(self) -> None:
        with pytest.raises(ValueError, match="either a number or a special"):
            SFloat(None)
        with pytest.raises(ValueError, match="either a number or a special"):
            SFloat(1.0, "nan")


class TestProperties:
    @given(sfloats())
    def test_round_trip(self, value: SFloat) -> None:
        decoded = decode_sfloat(encode_sfloat(value))
        assert decoded == value

    @given(st.integers(0, 0xFFFF))
    def test_every_word_decodes_and_numbers_survive_reencoding(self, word: int) -> None:
        decoded = sfloat_from_word(word)
        if decoded.is_number:
            assert decode_sfloat(encode_sfloat(decoded)) == decoded
        else:
            assert decoded.special in SPECIALS

    @counted
    @examples(600, 3000)
    @given(st.binary(max_size=4))
    def test_random_bytes_raise_only_decode_errors(self, data: bytes) -> None:
        try:
            decode_sfloat(data)
        except DecodeError:
            assert len(data) != 2
