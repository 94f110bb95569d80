"""Change event bitmaps: the reference's example, the digit rules, and a round trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.sandbox.salesforce.bitmap import BitmapLayout, decode_bitmap, encode_bitmap

# Fields 0..31 with compounds at 4 and 7, shaped like the reference's example bitmap.
NAMES = tuple(f"F{i}" for i in range(32))
LAYOUT = BitmapLayout(
    fields=NAMES,
    parts={4: tuple(f"P{i}" for i in range(8)), 7: tuple(f"Q{i}" for i in range(4))},
)


def test_decodes_the_reference_example() -> None:
    paths = decode_bitmap(LAYOUT, ["0x650004E0", "4-0x10", "7-0x06"])
    assert paths == ["F5", "F6", "F7", "F10", "F24", "F26", "F29", "F30", "F4.P4", "F7.Q1", "F7.Q2"]


def test_encodes_the_reference_example() -> None:
    paths = ["F5", "F6", "F7", "F10", "F24", "F26", "F29", "F30", "F4.P4", "F7.Q1", "F7.Q2"]
    assert encode_bitmap(LAYOUT, paths) == ["0x650004E0", "4-0x10", "7-0x06"]


def test_pads_to_an_even_number_of_upper_case_digits() -> None:
    assert encode_bitmap(LAYOUT, ["F1", "F2", "F3", "F10"]) == ["0x040E"]
    assert encode_bitmap(LAYOUT, ["F4.P0"]) == ["0x00", "4-0x01"]
    assert encode_bitmap(LAYOUT, []) == []


def test_unknown_names_are_refused_with_the_name() -> None:
    with pytest.raises(ValueError, match="'Nope'"):
        encode_bitmap(LAYOUT, ["Nope"])
    with pytest.raises(ValueError, match="F4 has no part 'Zed'"):
        encode_bitmap(LAYOUT, ["F4.Zed"])
    with pytest.raises(ValueError, match="field 5 is not a compound"):
        decode_bitmap(LAYOUT, ["0x00", "5-0x01"])
    with pytest.raises(ValueError, match="sets bit 40"):
        decode_bitmap(LAYOUT, [hex(1 << 40)])


@st.composite
def layouts_and_paths(draw: st.DrawFn) -> tuple[BitmapLayout, list[str]]:
    count = draw(st.integers(min_value=1, max_value=80))
    names = tuple(f"Field{i}" for i in range(count))
    compound_at = draw(st.sets(st.integers(min_value=0, max_value=count - 1), max_size=4))
    parts = {
        index: tuple(f"Part{j}" for j in range(draw(st.integers(min_value=1, max_value=12))))
        for index in compound_at
    }
    candidates = list(names) + [f"{names[i]}.{p}" for i, ps in parts.items() for p in ps]
    chosen = draw(st.sets(st.sampled_from(candidates)))
    return BitmapLayout(fields=names, parts=parts), sorted(chosen)


@given(layouts_and_paths())
def test_round_trip(case: tuple[BitmapLayout, list[str]]) -> None:
    layout, paths = case
    encoded = encode_bitmap(layout, paths)
    assert sorted(decode_bitmap(layout, encoded)) == paths
    for element in encoded:
        digits = element.rpartition("0x")[2]
        assert len(digits) % 2 == 0
        assert digits == digits.upper()
        # The Java sample reads the digits as bytes, two at a time.
        assert bytes.fromhex(digits)
