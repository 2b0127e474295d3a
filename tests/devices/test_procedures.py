"""The pure parts of the profile procedures."""

import pytest

from devices.procedures import is_newer


@pytest.mark.parametrize(
    ("sequence", "than", "newer"),
    [
        (3, 2, True),
        (2, 2, False),
        (1, 2, False),
        (0, 0xFFFF, True),  # the counter wrapped
        (5, 0xFFF0, True),
        (0xFFFF, 2, False),  # an old record from before the wrap
        (0xFFFE, 0, False),
        (0x8000, 1, True),  # less than half the counter ahead
        (0x8001, 1, False),  # half the counter ahead or more: behind, after a wrap
    ],
)
def test_sequence_order_on_the_wrapping_counter(sequence, than, newer):
    assert is_newer(sequence, than) is newer
