import pytest
from hypothesis import given
from hypothesis import strategies as st

from freshforce.connectors.salesforce.ids import to_18

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(
    ("short", "long"),
    [("00558000001N0Ke", "00558000001N0KeAAK"), ("001D000000IRFma", "001D000000IRFmaIAH")],
)
def test_documented_examples(short: str, long: str) -> None:
    assert to_18(short) == long
    assert to_18(long) == long


@given(st.text(alphabet=ALNUM, min_size=15, max_size=15))
def test_any_15_char_id_extends_and_round_trips(id15: str) -> None:
    long = to_18(id15)
    assert long.startswith(id15)
    assert len(long) == 18
    assert to_18(long) == long


@given(st.text(alphabet=ALNUM, min_size=15, max_size=15), st.integers(0, 14))
def test_a_case_flip_changes_the_checksum(id15: str, at: int) -> None:
    flipped = id15[:at] + id15[at].swapcase() + id15[at + 1 :]
    if flipped != id15:
        assert to_18(flipped)[15:] != to_18(id15)[15:]


@pytest.mark.parametrize("bad", ["", "001", "001D000000IRFmaXXX", "001D000000IRF-a", "0" * 16])
def test_bad_ids_are_rejected_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="Salesforce id") as info:
        to_18(bad)
    assert repr(bad) in str(info.value)
