from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.sandbox.salesforce.ids import (
    KEY_PREFIXES,
    IdMinter,
    is_valid_id,
    normalise_id,
    to_18,
)

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ids15 = st.text(alphabet=BASE62, min_size=15, max_size=15)


def _swap_case(text: str) -> str:
    return text.swapcase()


def test_known_conversions_match_salesforce():
    assert to_18("00558000001N0Ke") == "00558000001N0KeAAK"
    assert to_18("001D000000IRFma") == "001D000000IRFmaIAH"


@given(ids15)
def test_18_extends_15_with_an_upper_case_checksum(id15):
    id18 = to_18(id15)
    assert id18[:15] == id15
    assert len(id18) == 18
    assert all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345" for c in id18[15:])


@given(ids15)
def test_conversion_is_idempotent(id15):
    assert to_18(to_18(id15)) == to_18(id15)
    assert normalise_id(to_18(id15)) == to_18(id15)


@given(ids15)
def test_checksum_tells_ids_differing_only_in_case_apart(id15):
    other = _swap_case(id15)
    if any(c.isalpha() for c in id15):
        assert to_18(id15).lower() != to_18(other).lower()


@given(ids15)
def test_an_18_character_id_survives_a_case_insensitive_round_trip(id15):
    id18 = to_18(id15)
    assert is_valid_id(id18)
    assert is_valid_id(id18[:15] + id18[15:].lower())
    assert normalise_id(id18[:15] + id18[15:].lower()) == id18


@given(ids15, st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", min_size=3, max_size=3))
def test_a_wrong_checksum_is_rejected(id15, suffix):
    candidate = id15 + suffix
    assert is_valid_id(candidate) == (suffix == to_18(id15)[15:])


@pytest.mark.parametrize("bad", ["", "001", "001D000000IRFm!", "001D000000IRFmaIAHX", "x" * 16])
def test_malformed_ids_are_refused(bad):
    assert not is_valid_id(bad)
    with pytest.raises(ValueError, match="malformed"):
        normalise_id(bad)


def test_minted_ids_carry_real_key_prefixes_and_valid_checksums():
    minter = IdMinter()
    for object_name, prefix in KEY_PREFIXES.items():
        first, second = minter.mint(prefix), minter.mint(prefix)
        assert first.startswith(prefix), object_name
        assert first != second
        assert is_valid_id(first)
        assert to_18(first[:15]) == first
    assert KEY_PREFIXES["Account"] == "001"
    assert KEY_PREFIXES["OpportunityLineItem"] == "00k"
