from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from freshforce.engine.fingerprint import fingerprint

_WORDS = st.text(alphabet="abcdefghij XYZ", min_size=1, max_size=12)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
    _WORDS,
    st.dates().map(date.isoformat),
)
_RECORDS = st.dictionaries(st.text(min_size=1, max_size=8), _VALUES, max_size=8)


@given(_RECORDS, st.randoms())
def test_key_order_never_matters(record: dict[str, object], rnd: object) -> None:
    items = list(record.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    assert fingerprint(dict(items)) == fingerprint(record)


@given(_RECORDS)
def test_equal_values_hash_equal(record: dict[str, object]) -> None:
    assert fingerprint(dict(record)) == fingerprint(record)
    assert len(fingerprint(record)) == 64


@given(st.dictionaries(st.sampled_from("abcdef"), _WORDS, min_size=1), st.data())
def test_different_values_hash_differently(record: dict[str, str], data: st.DataObject) -> None:
    other = data.draw(st.dictionaries(st.sampled_from("abcdef"), _WORDS, min_size=1))
    assume(other != record)
    assert fingerprint(other) != fingerprint(record)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1e6, max_value=1e6))
def test_a_number_hashes_as_each_system_echoes_it(amount: Decimal) -> None:
    forms = [amount, str(amount), float(amount), f"{amount:.2f}"]
    assert len({fingerprint({"Amount": form}) for form in forms}) == 1


def test_echo_forms_of_dates_and_empties_are_one_value() -> None:
    eastern = timezone(timedelta(hours=-5))
    instant = datetime(2013, 5, 20, 20, 49, 32, tzinfo=UTC)
    forms = [
        instant,
        instant.astimezone(eastern),
        "2013-05-20T20:49:32.000+0000",
        "2013-05-20T20:49:32Z",
    ]
    assert len({fingerprint({"at": form}) for form in forms}) == 1
    assert fingerprint({"d": date(2026, 1, 2)}) == fingerprint({"d": "2026-01-02"})
    assert fingerprint({"note": None}) == fingerprint({"note": ""})
    assert fingerprint({"money": {"amount": "41.90", "code": "CAD"}}) == fingerprint(
        {"money": {"code": "CAD", "amount": 41.9}}
    )


def test_what_looks_alike_but_is_not_stays_apart() -> None:
    assert fingerprint({"flag": True}) != fingerprint({"flag": 1})
    assert fingerprint({"zip": "07030"}) != fingerprint({"zip": "7030"})
    assert fingerprint({"a": "x"}) != fingerprint({"b": "x"})
    assert fingerprint({"n": 0}) == fingerprint({"n": "-0.00"})


def test_a_value_that_is_no_json_is_named() -> None:
    with pytest.raises(TypeError, match="cannot fingerprint a set"):
        fingerprint({"s": {1}})
